//! The console's state and how messages and keys change it. No I/O here: the
//! event loop in `tui.rs` carries effects out.

pub mod backup;
pub mod defrag;
pub mod encryption;
pub mod keys;
pub mod openshift;
pub mod restore;

use std::time::{Duration, Instant};

use etcd_console_core::cluster::{ClusterState, Discovery};
use etcd_console_core::etcd::poller::PollEvent;
use etcd_console_core::openshift::csr::{self, PendingCsr, Selection};
use keys::{Action, Edit};

/// What the event loop must do after an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    RefreshNow,
    Suspend,
    /// A confirmed change to the cluster, for the executor.
    Change(Change),
    /// A confirmed defrag run (new or resumed), for the defrag executor.
    StartDefrag(Box<(etcd_console_core::wizard::defrag::DefragRun, Option<etcd_console_core::journal::Unfinished>)>),
    /// Stop the defrag run before its next member.
    AbortDefrag,
    /// Take a backup (forced: despite a refusal the user confirmed).
    StartBackup {
        force: bool,
    },
    /// Stop the backup now (its part file is removed).
    AbortBackup,
    /// Read the cluster and plan a migration to this type (the engine asks before it patches).
    StartEncryption {
        target: etcd_console_core::wizard::encryption::EncryptionType,
        backup_first: bool,
    },
    /// The user's answer to the engine's question.
    AnswerEncryption(bool),
    /// Stop the encryption run (before the patch nothing changes; after it, following stops).
    AbortEncryption,
    /// Survey the cluster and judge the restore's gates, with this recovery host.
    PlanRestore {
        recovery_host: Option<String>,
    },
    /// Run the restore (or resume the journalled one) on this recovery host.
    StartRestore {
        recovery_host: String,
    },
    /// What the person typed at the engine's prompt (empty: no).
    AnswerRestore(String),
    /// Stop the restore run once the step in flight has done its act.
    AbortRestore,
}

/// A change to the cluster the user confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    ApproveCsrs(Vec<String>),
    DenyCsr(String),
    /// The members of the plan shown, in order (checked again when confirmed).
    Defrag(Vec<u64>),
    ResumeDefrag,
    /// A backup despite what the checks refused (marked __POSSIBLY_DIRTY__).
    ForceBackup,
    /// Yes to the encryption engine's question (the patch of APIServer cluster).
    EncryptionYes,
}

/// The one confirmation every change goes through: it names what it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub change: Change,
}

impl Confirm {
    /// The keys the question offers: the encryption patch takes only y (an Enter meant for
    /// the wizard cannot answer it); elsewhere Enter is yes too.
    pub fn keys(&self) -> keys::Context {
        if self.change == Change::EncryptionYes {
            keys::Context::ConfirmEncryption
        } else {
            keys::Context::Confirm
        }
    }
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
    pub reach: Vec<etcd_console_core::etcd::discovery::Reach>,
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
    /// The defrag wizard, once opened.
    pub defrag: Option<defrag::DefragWizard>,
    /// The defrag run's options from the flags (wait, limits, quota).
    pub defrag_options: etcd_console_core::wizard::defrag::Options,
    /// An unfinished defrag run of this cluster found in the journal.
    pub unfinished_defrag: Option<etcd_console_core::journal::Unfinished>,
    /// q was pressed once during a defrag run: the next q quits.
    pub quit_armed: bool,
    /// The backup wizard, once opened.
    pub backup: Option<backup::BackupWizard>,
    /// Where backups go (--backup-dir or its default); None: no home directory.
    pub backup_dir: Option<std::path::PathBuf>,
    /// The newest verified backup of this cluster there: None before it was looked for,
    /// Some(None) when there is none.
    pub last_backup: Option<Option<backup::LastBackup>>,
    /// The encryption migration wizard, once opened.
    pub encryption: Option<encryption::EncryptionWizard>,
    /// The restore wizard, once opened.
    pub restore: Option<restore::RestoreWizard>,
    /// `--restore-backup DIR`: the backup the restore wizard plans with.
    pub restore_backup: Option<std::path::PathBuf>,
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
            defrag: None,
            defrag_options: etcd_console_core::wizard::defrag::Options { quota_bytes, ..Default::default() },
            unfinished_defrag: None,
            quit_armed: false,
            backup: None,
            backup_dir: None,
            last_backup: None,
            encryption: None,
            restore: None,
            restore_backup: None,
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
        if let Some(wizard) = &mut self.defrag {
            wizard.replan(&self.cluster);
        }
    }

    pub fn on_defrag(&mut self, progress: etcd_console_core::wizard::defrag::executor::Progress) {
        if let Some(wizard) = &mut self.defrag {
            wizard.on_progress(progress);
            let not_started = matches!(
                wizard.run.as_ref().and_then(|r| r.outcome()),
                Some(etcd_console_core::wizard::defrag::Outcome::Stopped { reason }) if reason.starts_with("not started")
            );
            if not_started {
                // The journal was not touched: the offer to resume stands.
                if let Some(unfinished) = wizard.resuming.take() {
                    self.unfinished_defrag = Some(unfinished);
                }
            }
            if wizard.stage == defrag::Stage::Finished {
                if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
                    self.notice = Some(match outcome {
                        etcd_console_core::wizard::defrag::Outcome::Completed => "defrag run completed".into(),
                        etcd_console_core::wizard::defrag::Outcome::Stopped { reason } => {
                            format!("defrag run stopped: {reason}")
                        }
                    });
                }
            }
        }
    }

    pub fn selected_member_id(&self) -> Option<u64> {
        self.cluster.members.get(self.selected).map(|m| m.identity.id)
    }

    pub fn on_action(&mut self, action: Action) -> Option<Effect> {
        let effect = self.on_action_inner(action);
        // The encryption engine's question waits for the screen to be free of another one.
        self.raise_encryption_question();
        effect
    }

    fn on_action_inner(&mut self, action: Action) -> Option<Effect> {
        if let Some(confirm) = self.confirm.take() {
            // Yes is a yes key the question offers (the encryption patch's offers no Enter).
            let offered = confirm.keys().hints().iter().any(|h| h.actions().contains(&action));
            let yes = offered && matches!(action, Action::Yes | Action::Confirm);
            if !yes && action == Action::Confirm {
                self.confirm = Some(confirm);
                return None;
            }
            return match action {
                _ if yes => match confirm.change {
                    Change::Defrag(ids) => self.start_defrag(&ids),
                    Change::ResumeDefrag => self.resume_defrag(),
                    Change::ForceBackup => self.start_backup(true),
                    Change::EncryptionYes => Some(Effect::AnswerEncryption(true)),
                    change => Some(Effect::Change(change)),
                },
                Action::CloseOverlay => {
                    self.notice = Some("cancelled: nothing changed".into());
                    (confirm.change == Change::EncryptionYes).then_some(Effect::AnswerEncryption(false))
                }
                Action::Quit => Some(Effect::Quit),
                _ => {
                    self.confirm = Some(confirm);
                    None
                }
            };
        }
        if let Some(effect) = self.on_restore_action(action) {
            return effect;
        }
        if let Some(effect) = self.on_encryption_action(action) {
            return effect;
        }
        if let Some(effect) = self.on_backup_action(action) {
            return effect;
        }
        if let Some(effect) = self.on_defrag_action(action) {
            return effect;
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

    pub fn on_backup(&mut self, progress: etcd_console_core::wizard::backup::executor::Progress) {
        let Some(wizard) = &mut self.backup else { return };
        wizard.on_progress(progress);
        if wizard.stage != backup::Stage::Finished {
            return;
        }
        if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
            use etcd_console_core::wizard::backup::Outcome;
            self.notice = Some(match outcome {
                Outcome::Completed => "backup taken and verified".into(),
                Outcome::Refused { .. } if wizard.refused().is_some() => {
                    "backup refused by a check: f takes it anyway, marked __POSSIBLY_DIRTY__".into()
                }
                Outcome::Refused { reason } => format!("backup refused: {reason}"),
                Outcome::Failed { reason } => format!("backup failed: {reason}"),
            });
        }
    }

    pub fn on_encryption(&mut self, progress: etcd_console_core::wizard::encryption::executor::Progress) {
        let Some(wizard) = &mut self.encryption else { return };
        wizard.on_progress(progress);
        self.raise_encryption_question();
        self.encryption_finished();
    }

    /// The engine waits for the user's yes: its question is put up once no other is on screen.
    fn raise_encryption_question(&mut self) {
        if self.confirm.is_some() {
            return;
        }
        let Some(wizard) = &mut self.encryption else { return };
        if wizard.wants_answer() {
            if let Some(plan) = wizard.run.as_ref().and_then(|r| r.plan()) {
                wizard.asked = true;
                wizard.shown = true;
                let mut lines = vec![
                    // The title may be cut on a narrow screen: the cluster is said in full here too.
                    format!("cluster: {}", plan.cluster),
                    format!(
                        "merge patch of APIServer cluster: spec.encryption.type {} -> {}",
                        plan.from.as_str(),
                        plan.to.as_str()
                    ),
                    format!("followed on: {}", plan.operators.join(", ")),
                ];
                lines.push(if plan.backup_first {
                    "a verified backup is taken first; nothing is patched if it fails".into()
                } else {
                    "no backup first (b in the wizard takes one)".into()
                });
                lines.extend(plan.notes.iter().map(|n| format!("- {n}")));
                self.confirm = Some(Confirm {
                    title: format!(
                        "Set encryption {} -> {} on {}?",
                        plan.from.as_str(),
                        plan.to.as_str(),
                        plan.cluster
                    ),
                    lines,
                    change: Change::EncryptionYes,
                });
            }
        }
    }

    /// The run's end: a question still up is taken down, the outcome said in the footer.
    fn encryption_finished(&mut self) {
        let Some(wizard) = &mut self.encryption else { return };
        if wizard.stage != encryption::Stage::Finished {
            return;
        }
        if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
            // A question still on screen has no run behind it any more.
            if self.confirm.as_ref().is_some_and(|c| c.change == Change::EncryptionYes) {
                self.confirm = None;
            }
            let target = wizard.run.as_ref().map(|r| r.target).unwrap_or(wizard.target).as_str();
            self.notice = Some(match outcome {
                etcd_console_core::wizard::encryption::Outcome::Completed { .. } => {
                    format!(
                        "encryption {target} completed: take a fresh backup, its keys stored apart (etcd-console backup --encryption-keys DIR2)"
                    )
                }
                other => format!("encryption {target}: {}", other.describe()),
            });
        }
    }

    pub fn on_restore(&mut self, progress: etcd_console_core::wizard::restore::executor::Progress) {
        let Some(wizard) = &mut self.restore else { return };
        wizard.on_progress(progress);
        if wizard.stage == restore::Stage::Finished && wizard.prompt.is_none() {
            if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
                self.notice = Some(format!("restore: {}", outcome.describe()));
            }
        }
    }

    /// The engine waits for the person to type something.
    pub fn ask_restore(&mut self, asked: restore::Asked) {
        if let Some(wizard) = &mut self.restore {
            wizard.ask(asked);
        }
    }

    /// Whether keys go to the restore prompt.
    pub fn restore_prompt_up(&self) -> bool {
        self.restore.as_ref().is_some_and(|w| w.prompt.is_some())
    }

    /// A key while the restore prompt is up, by EDIT_KEYS: Enter answers, Esc answers nothing
    /// (no: cancelled, or the step not done), Backspace removes; characters add.
    pub fn on_restore_key(&mut self, key: crossterm::event::KeyEvent) -> Option<Effect> {
        use crossterm::event::KeyCode;
        let wizard = self.restore.as_mut()?;
        let prompt = wizard.prompt.as_mut()?;
        match keys::edit_for(key.code) {
            Some(Edit::Erase) => {
                prompt.typed.pop();
            }
            Some(Edit::Keep) => {
                let typed = prompt.typed.trim().to_string();
                wizard.prompt = None;
                return Some(Effect::AnswerRestore(typed));
            }
            Some(Edit::Drop) => {
                wizard.prompt = None;
                return Some(Effect::AnswerRestore(String::new()));
            }
            None => match key.code {
                KeyCode::Char(c) if !key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) => {
                    prompt.typed.push(c)
                }
                _ => {}
            },
        }
        None
    }

    /// The restore wizard's keys; Some(effect) when the key was the wizard's.
    fn on_restore_action(&mut self, action: Action) -> Option<Option<Effect>> {
        if action == Action::OpenRestore {
            let dir = self.restore_backup.clone();
            let wizard = self.restore.get_or_insert_with(|| restore::RestoreWizard::new(dir));
            wizard.shown = true;
            for hide in [self.encryption.as_mut().map(|w| &mut w.shown), self.backup.as_mut().map(|w| &mut w.shown)]
                .into_iter()
                .flatten()
            {
                *hide = false;
            }
            if let Some(defrag) = &mut self.defrag {
                defrag.shown = false;
            }
            if wizard.stage == restore::Stage::Planning && wizard.run.is_none() && !wizard.planning {
                if wizard.backup_dir.is_none() {
                    return Some(None);
                }
                wizard.planning = true;
                return Some(Some(Effect::PlanRestore { recovery_host: wizard.chosen.clone() }));
            }
            return Some(None);
        }
        let overlay = self.show_help || self.show_alerts;
        let wizard = self.restore.as_mut().filter(|w| w.shown && !overlay)?;
        match (action, wizard.stage) {
            (Action::SelectPrevious | Action::SelectNext, restore::Stage::Planning) => {
                if wizard.choose(action == Action::SelectPrevious) {
                    wizard.planning = true;
                    return Some(Some(Effect::PlanRestore { recovery_host: wizard.chosen.clone() }));
                }
            }
            (Action::Confirm, restore::Stage::Planning) => {
                let Some(host) = wizard.chosen.clone().or_else(|| wizard.hosted.then(String::new)) else {
                    self.notice = Some("choose the recovery host with ↑↓ first".into());
                    return Some(None);
                };
                if wizard.planning || wizard.backup_dir.is_none() {
                    return Some(None);
                }
                wizard.start();
                self.quit_armed = false;
                return Some(Some(Effect::StartRestore { recovery_host: host }));
            }
            (Action::Confirm, restore::Stage::Finished) => {
                wizard.stage = restore::Stage::Planning;
                wizard.planning = true;
                return Some(Some(Effect::PlanRestore { recovery_host: wizard.chosen.clone() }));
            }
            (Action::AbortDefrag, restore::Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some(
                    "stopping once the step in flight has done its act; the journal keeps where (R, Enter resumes)"
                        .into(),
                );
                return Some(Some(Effect::AbortRestore));
            }
            (Action::CloseOverlay, restore::Stage::Running) => wizard.shown = false,
            (Action::CloseOverlay, _) => self.restore = None,
            (Action::OpenBackup | Action::OpenDefrag | Action::OpenEncryption, _) => {
                wizard.shown = false;
                return None;
            }
            _ => return None,
        }
        Some(None)
    }

    /// The encryption wizard's keys; Some(effect) when the key was the wizard's.
    fn on_encryption_action(&mut self, action: Action) -> Option<Option<Effect>> {
        if action == Action::OpenEncryption {
            let current = self
                .openshift
                .encryption()
                .and_then(|e| etcd_console_core::wizard::encryption::EncryptionType::parse(&e.kind));
            self.encryption.get_or_insert_with(|| encryption::EncryptionWizard::new(current)).shown = true;
            if let Some(backup) = &mut self.backup {
                backup.shown = false;
            }
            if let Some(defrag) = &mut self.defrag {
                defrag.shown = false;
            }
            return Some(None);
        }
        let overlay = self.show_help || self.show_alerts;
        let wizard = self.encryption.as_mut().filter(|w| w.shown && !overlay)?;
        match (action, wizard.stage) {
            (Action::SelectPrevious, encryption::Stage::Choosing) => wizard.choose(true),
            (Action::SelectNext, encryption::Stage::Choosing) => wizard.choose(false),
            (Action::OpenBackup, encryption::Stage::Choosing) => wizard.backup_first = !wizard.backup_first,
            (Action::Confirm, encryption::Stage::Choosing | encryption::Stage::Finished) => {
                if wizard.stage == encryption::Stage::Finished {
                    wizard.stage = encryption::Stage::Choosing;
                    return Some(None);
                }
                let (target, backup_first) = (wizard.target, wizard.backup_first);
                wizard.start();
                self.quit_armed = false;
                return Some(Some(Effect::StartEncryption { target, backup_first }));
            }
            (Action::AbortDefrag, encryption::Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some(if wizard.run.as_ref().is_some_and(|r| r.patched_at.is_some()) {
                    "stopping: the migration goes on in the cluster; only the following stops".into()
                } else {
                    "stopping: nothing has been patched".into()
                });
                return Some(Some(Effect::AbortEncryption));
            }
            (Action::CloseOverlay, encryption::Stage::Running) => wizard.shown = false,
            (Action::CloseOverlay, _) => self.encryption = None,
            // The other wizards' keys hide this one.
            (Action::OpenBackup | Action::OpenDefrag, _) => {
                wizard.shown = false;
                return None;
            }
            _ => return None,
        }
        Some(None)
    }

    fn start_backup(&mut self, force: bool) -> Option<Effect> {
        let wizard = self.backup.as_mut()?;
        wizard.start();
        self.quit_armed = false;
        if let Some(defrag) = &mut self.defrag {
            defrag.shown = false;
        }
        Some(Effect::StartBackup { force })
    }

    /// The backup wizard's keys; Some(effect) when the key was the wizard's.
    fn on_backup_action(&mut self, action: Action) -> Option<Option<Effect>> {
        if action == Action::OpenBackup {
            let Some(dir) = self.backup_dir.clone() else {
                self.notice = Some("no home directory to keep backups in: give --backup-dir".into());
                return Some(None);
            };
            self.backup.get_or_insert_with(|| backup::BackupWizard::new(dir)).shown = true;
            if let Some(defrag) = &mut self.defrag {
                defrag.shown = false;
            }
            return Some(None);
        }
        let overlay = self.show_help || self.show_alerts;
        let wizard = self.backup.as_mut().filter(|w| w.shown && !overlay)?;
        match (action, wizard.stage) {
            // Nothing in the cluster changes: a backup only reads, so it needs no confirmation (and is
            // allowed under --read-only).
            (Action::Confirm, backup::Stage::Ready | backup::Stage::Finished) => {
                return Some(self.start_backup(false));
            }
            (Action::ForceBackup, backup::Stage::Finished) => {
                let reason = wizard.refused()?.to_string();
                self.confirm = Some(Confirm {
                    title: "Take the backup anyway?".into(),
                    lines: vec![
                        format!("refused because: {reason}"),
                        format!(
                            "into {}, every file name marked __POSSIBLY_DIRTY__: a restore from it may be                              inconsistent (partly encrypted, or mid-rollout)",
                            wizard.dir.display()
                        ),
                    ],
                    change: Change::ForceBackup,
                });
            }
            (Action::AbortDefrag, backup::Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some("stopping the backup: its part file is removed".into());
                return Some(Some(Effect::AbortBackup));
            }
            (Action::CloseOverlay, backup::Stage::Running) => wizard.shown = false,
            (Action::CloseOverlay, _) => self.backup = None,
            _ => return None,
        }
        Some(None)
    }

    /// The defrag wizard's keys; Some(effect) when the key was the wizard's.
    fn on_defrag_action(&mut self, action: Action) -> Option<Option<Effect>> {
        if action == Action::OpenDefrag {
            if let Some(backup) = &mut self.backup {
                backup.shown = false;
            }
            match &mut self.defrag {
                Some(wizard) => wizard.shown = true,
                None => {
                    let mut wizard = defrag::DefragWizard::new(self.defrag_options.clone());
                    wizard.replan(&self.cluster);
                    self.defrag = Some(wizard);
                }
            }
            return Some(None);
        }
        let overlay = self.show_help || self.show_alerts;
        let wizard = self.defrag.as_mut().filter(|w| w.shown && !overlay)?;
        match (action, wizard.stage) {
            (Action::ToggleEveryMember, defrag::Stage::Planning) => {
                wizard.every_member = !wizard.every_member;
                wizard.replan(&self.cluster);
            }
            (Action::ToggleMoveLeader, defrag::Stage::Planning) => {
                wizard.options.move_leader = !wizard.options.move_leader
            }
            (Action::Confirm, defrag::Stage::Planning) => self.ask_to_defrag(),
            (Action::AbortDefrag, defrag::Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some("abort asked: the run stops before the next member".into());
                return Some(Some(Effect::AbortDefrag));
            }
            (Action::CloseOverlay, defrag::Stage::Running) => wizard.shown = false,
            (Action::CloseOverlay, _) => self.defrag = None,
            _ => return None,
        }
        Some(None)
    }

    fn ask_to_defrag(&mut self) {
        if self.unfinished_defrag.is_some() {
            let Some(unfinished) = &self.unfinished_defrag else { return };
            let left: Vec<String> = unfinished.run.remaining().iter().map(|p| p.name.clone()).collect();
            self.confirm = Some(Confirm {
                title: format!(
                    "Resume the defrag run of cluster {}?",
                    etcd_console_core::cluster::report::hex(unfinished.run.cluster_id)
                ),
                lines: vec![
                    format!("left: {}", left.join(", ")),
                    format!(
                        "last written {}; the member in flight is checked before anything is sent",
                        unfinished.last_written
                    ),
                ],
                change: Change::ResumeDefrag,
            });
            return;
        }
        let Some(wizard) = &self.defrag else { return };
        let plan = match &wizard.plan {
            Ok(plan) if !plan.steps.is_empty() => plan,
            Ok(_) => {
                self.notice = Some(format!(
                    "no member needs a defrag by this rule ({})",
                    keys::aside(keys::Context::DefragNoneNeeded.hints())
                ));
                return;
            }
            Err(e) => {
                self.notice = Some(e.clone());
                return;
            }
        };
        let Some(cluster_id) = wizard.cluster_id else {
            self.notice = Some("the cluster ID is not known yet".into());
            return;
        };
        let mut lines: Vec<String> = plan
            .steps
            .iter()
            .enumerate()
            .map(|(n, s)| format!("{}. {}{}", n + 1, s.name, if s.is_leader { " (the leader, last)" } else { "" }))
            .collect();
        lines.push(format!(
            "one at a time, {} apart, every member checked healthy before the next{}",
            humantime::format_duration(wizard.options.wait),
            if wizard.options.move_leader { "; leadership moved before the leader's turn" } else { "" }
        ));
        self.confirm = Some(Confirm {
            title: format!(
                "Defragment {} member(s) of cluster {}?",
                plan.steps.len(),
                etcd_console_core::cluster::report::hex(cluster_id)
            ),
            lines,
            change: Change::Defrag(plan.steps.iter().map(|s| s.id).collect()),
        });
    }

    /// The confirmed plan becomes a run, if it is still the plan shown.
    fn start_defrag(&mut self, ids: &[u64]) -> Option<Effect> {
        let wizard = self.defrag.as_mut()?;
        let (Ok(plan), Some(cluster_id)) = (&wizard.plan, wizard.cluster_id) else { return None };
        if plan.steps.iter().map(|s| s.id).collect::<Vec<_>>() != ids {
            self.notice = Some("the plan changed while you were asked: look at it again".into());
            return None;
        }
        // The engine refuses under --read-only, whatever the screen allowed.
        match etcd_console_core::wizard::defrag::DefragRun::new(
            plan,
            cluster_id,
            wizard.options.clone(),
            self.read_only,
        ) {
            Ok(run) => {
                wizard.stage = defrag::Stage::Running;
                wizard.run = Some(run.clone());
                self.quit_armed = false;
                Some(Effect::StartDefrag(Box::new((run, None))))
            }
            Err(e) => {
                self.notice = Some(e);
                None
            }
        }
    }

    fn resume_defrag(&mut self) -> Option<Effect> {
        let unfinished = self.unfinished_defrag.take()?;
        match unfinished.run.clone().resumed(unfinished.in_flight.as_ref(), self.read_only) {
            Ok(run) => {
                let wizard = self.defrag.get_or_insert_with(|| defrag::DefragWizard::new(run.options.clone()));
                wizard.stage = defrag::Stage::Running;
                wizard.shown = true;
                wizard.abort_sent = false;
                wizard.run = Some(run.clone());
                wizard.resuming = Some(unfinished.clone());
                self.quit_armed = false;
                Some(Effect::StartDefrag(Box::new((run, Some(unfinished)))))
            }
            Err(e) => {
                self.notice = Some(e);
                self.unfinished_defrag = Some(unfinished);
                None
            }
        }
    }

    /// An unfinished run found in the journal: offered, never resumed unasked.
    pub fn offer_resume(&mut self, unfinished: etcd_console_core::journal::Unfinished) {
        let left: Vec<String> = unfinished.run.remaining().iter().map(|p| p.name.clone()).collect();
        self.notice = Some(format!(
            "an unfinished defrag run was found (left: {}): press d, then Enter to resume",
            left.join(", ")
        ));
        let mut wizard = defrag::DefragWizard::new(unfinished.run.options.clone());
        wizard.run = Some(unfinished.run.clone());
        wizard.shown = false;
        self.defrag = Some(wizard);
        self.unfinished_defrag = Some(unfinished);
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

    /// A key while the filter is typed, by EDIT_KEYS: Enter keeps it, Esc clears it,
    /// Backspace removes; characters add.
    pub fn on_filter_key(&mut self, key: crossterm::event::KeyEvent) {
        let mut filter = self.openshift.filter.clone();
        match keys::edit_for(key.code) {
            Some(Edit::Erase) => {
                filter.pop();
            }
            Some(Edit::Keep) => self.openshift.editing_filter = false,
            Some(Edit::Drop) => {
                filter.clear();
                self.openshift.editing_filter = false;
            }
            None => {
                if let crossterm::event::KeyCode::Char(c) = key.code {
                    filter.push(c)
                }
            }
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
            Action::Quit => {
                let restoring = self.restore.as_ref().is_some_and(|w| w.stage == restore::Stage::Running);
                if restoring && !self.quit_armed {
                    self.quit_armed = true;
                    self.notice = Some(
                        "a restore is running: x stops it after the step in flight; q again quits now (the journal keeps where it was)"
                            .into(),
                    );
                    return None;
                }
                let migrating = self.encryption.as_ref().is_some_and(|w| w.stage == encryption::Stage::Running);
                if migrating && !self.quit_armed {
                    self.quit_armed = true;
                    self.notice = Some(
                        "an encryption run is going on: x stops it (a migration already patched goes on in the cluster); q again quits now"
                            .into(),
                    );
                    return None;
                }
                let backing_up = self.backup.as_ref().is_some_and(|w| w.stage == backup::Stage::Running);
                if backing_up && !self.quit_armed {
                    self.quit_armed = true;
                    self.notice = Some(
                        "a backup is being taken: x stops it; q again quits now (nothing is left at its final name)"
                            .into(),
                    );
                    return None;
                }
                let running = self.defrag.as_ref().is_some_and(|w| w.stage == defrag::Stage::Running);
                if running && !self.quit_armed {
                    self.quit_armed = true;
                    self.notice = Some(
                        "a defrag run is going on: x stops it before the next member; q again quits now (the \
                         journal keeps the run to resume)"
                            .into(),
                    );
                    return None;
                }
                return Some(Effect::Quit);
            }
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
            Action::ApproveCsr
            | Action::ApproveAllValid
            | Action::DenyCsr
            | Action::FilterCsrs
            | Action::Confirm
            | Action::Yes
            | Action::OpenDefrag
            | Action::ToggleMoveLeader
            | Action::ToggleEveryMember
            | Action::AbortDefrag
            | Action::OpenBackup
            | Action::ForceBackup
            | Action::OpenEncryption
            | Action::OpenRestore => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_console_core::cluster::fixtures::*;
    use etcd_console_core::openshift::csr::{CsrClass, PendingCsr};
    use etcd_console_core::openshift::watch::OpenShiftEvent;

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
