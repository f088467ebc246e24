//! The console's state and how messages and keys change it. No I/O here: the
//! event loop in `tui.rs` carries effects out.

pub mod backup;
pub mod defrag;
pub mod encryption;
pub mod input;
pub mod keys;
pub mod member;
pub mod openshift;
pub mod restore;
pub mod space;
pub mod timeline;

use std::time::{Duration, Instant};

use etcd_console_core::cluster::{ClusterState, Discovery};
use etcd_console_core::etcd::poller::PollEvent;
use etcd_console_core::openshift::csr::{self, PendingCsr, Selection};
use etcd_console_core::openshift::model::quorum_guard_off;
use etcd_console_core::openshift::watch::Watched;
use etcd_console_core::units::{safe_text, safe_text_within};
use input::Typed;
use keys::Action;

/// What the event loop must do after an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    RefreshNow,
    Suspend,
    /// A confirmed change to the cluster, for the executor.
    Change(Change),
    /// A wizard's run, for its executor (one at a time of each kind).
    Start(Start),
    /// The person's answer to the question a run waits on.
    Answer(Answer),
    /// Stop the run of this kind (defrag: before the next member; backup: now; encryption: before
    /// the patch nothing changes, after it the following stops; restore: once the step in flight
    /// has done its act).
    Stop(WizardKind),
    /// Survey the cluster and judge the restore's gates, with this recovery host. Not a run:
    /// nothing to stop or answer, and a plan asked for another host may overlap it.
    PlanRestore {
        recovery_host: Option<String>,
    },
    /// Survey the cluster and judge the member replacement's gates for this member (`plan_only`).
    /// Not a run: nothing to stop or answer.
    PlanMember {
        member: String,
    },
    /// `T`: write this Markdown (the timeline) to a new file of this name.
    ExportTimeline {
        markdown: String,
        name: String,
    },
}

/// The console's wizards; at most one is open on the lower half, and each kind has at most one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WizardKind {
    Defrag,
    Backup,
    Encryption,
    Restore,
    Member,
    /// The space view: a reading, not a wizard, but it takes the lower half and runs like one.
    Space,
}

impl WizardKind {
    pub fn name(self) -> &'static str {
        match self {
            WizardKind::Defrag => "defrag",
            WizardKind::Backup => "backup",
            WizardKind::Encryption => "encryption",
            WizardKind::Restore => "restore",
            WizardKind::Member => "member",
            WizardKind::Space => "space",
        }
    }

    /// The wizard a key opens.
    fn opened_by(action: Action) -> Option<WizardKind> {
        match action {
            Action::OpenDefrag => Some(WizardKind::Defrag),
            Action::OpenBackup => Some(WizardKind::Backup),
            Action::OpenEncryption => Some(WizardKind::Encryption),
            Action::OpenRestore => Some(WizardKind::Restore),
            Action::OpenMember => Some(WizardKind::Member),
            Action::OpenSpace => Some(WizardKind::Space),
            _ => None,
        }
    }
}

/// What each kind of run starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// A confirmed defrag run (new, or the journalled one resumed).
    Defrag {
        run: Box<etcd_console_core::wizard::defrag::DefragRun>,
        unfinished: Option<Box<etcd_console_core::wizard::defrag::journal::Unfinished>>,
    },
    /// Take a backup (forced: despite a refusal the user confirmed).
    Backup { force: bool, keys_dir: Option<std::path::PathBuf> },
    /// Read the cluster and plan a migration to this type (the engine asks before it patches).
    Encryption { target: etcd_console_core::wizard::encryption::EncryptionType, backup_first: bool },
    /// Run the restore (or resume the journalled one) on this recovery host.
    Restore { recovery_host: String },
    /// Replace this member (name or hex ID): the engine surveys again, asks `CLUSTER/MEMBER`,
    /// then does every step; an unfinished run of it in the journal is resumed.
    Member { member: String },
    /// Read what fills etcd: live from a follower, or counted in the newest verified backup.
    Space { from_backup: bool },
}

impl Start {
    pub fn kind(&self) -> WizardKind {
        match self {
            Start::Defrag { .. } => WizardKind::Defrag,
            Start::Backup { .. } => WizardKind::Backup,
            Start::Encryption { .. } => WizardKind::Encryption,
            Start::Restore { .. } => WizardKind::Restore,
            Start::Member { .. } => WizardKind::Member,
            Start::Space { .. } => WizardKind::Space,
        }
    }
}

/// An answer to a run's question; each kind that asks takes its own (the kind is in the answer,
/// so the two cannot disagree).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Yes or no to the encryption engine's question (the patch of APIServer cluster).
    Encryption(bool),
    /// What the person typed at the restore's prompt (empty: no).
    Restore(String),
    /// What the person typed at the member replacement's prompt (empty: no).
    Member(String),
}

impl Answer {
    pub fn kind(&self) -> WizardKind {
        match self {
            Answer::Encryption(_) => WizardKind::Encryption,
            Answer::Restore(_) => WizardKind::Restore,
            Answer::Member(_) => WizardKind::Member,
        }
    }
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
    /// The keys the question offers: y, or n/Esc (never Enter, for any write).
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
    /// Every node: Ready, roles, the kubelet's version, pending CSRs.
    Nodes,
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
    /// The wizard on the lower half (Esc hides a running one, its key shows it again); the
    /// others keep their state and runs, hidden. Read through `open_wizard`.
    open: Option<WizardKind>,
    /// The defrag wizard, once opened.
    pub defrag: Option<defrag::DefragWizard>,
    /// The defrag run's options from the flags (wait, limits, quota).
    pub defrag_options: etcd_console_core::wizard::defrag::Options,
    /// An unfinished defrag run of this cluster found in the journal.
    pub unfinished_defrag: Option<etcd_console_core::wizard::defrag::journal::Unfinished>,
    /// q was pressed once during a defrag run: the next q quits.
    pub quit_armed: bool,
    /// The backup wizard, once opened.
    pub backup: Option<backup::BackupWizard>,
    /// Where backups go (--backup-dir or its default); None: no home directory.
    pub backup_dir: Option<std::path::PathBuf>,
    /// Where the backup wizard saves the encryption keys when asked (`s`), apart from the backups.
    pub keys_dir: Option<std::path::PathBuf>,
    /// The newest verified backup of this cluster there: None before it was looked for,
    /// Some(None) when there is none.
    pub last_backup: Option<Option<backup::LastBackup>>,
    /// The encryption migration wizard, once opened.
    pub encryption: Option<encryption::EncryptionWizard>,
    /// The restore wizard, once opened.
    pub restore: Option<restore::RestoreWizard>,
    /// `--restore-backup DIR`: the backup the restore wizard plans with.
    pub restore_backup: Option<std::path::PathBuf>,
    /// The member-replacement wizard, once opened.
    pub member: Option<member::MemberWizard>,
    /// The space view, once opened.
    pub space: Option<space::SpaceView>,
    /// How far the help is scrolled: its first row shown.
    pub help_scroll: usize,
    /// The terminal's size (columns, rows), for the help's pages.
    pub screen: (u16, u16),
    /// Every change seen and every action taken here, newest last (bounded).
    pub timeline: etcd_console_core::timeline::Timeline,
    /// Turns what the sources report into the timeline's events.
    pub producer: etcd_console_core::timeline::Producer,
    /// Who acts here: the kubeconfig's user (or the local user), for the timeline.
    pub who: String,
    /// `t`: the timeline covers the members and the lower half.
    pub show_timeline: bool,
    pub timeline_view: timeline::TimelineView,
    /// The notice last seen by `age_notice`, and when it appeared.
    pub notice_seen: Option<String>,
    pub notice_at: Option<Instant>,
    /// The last run line recorded (an outcome is reported again with later reports).
    pub last_run_line: Option<String>,
}

/// A kubelet files one client and one serving CSR: a node with more pending than this is suspicious.
const PENDING_PER_NODE: usize = 2;
/// The most node lines a bulk approval lists (suspicious ones first).
const NODE_LINES: usize = 16;

/// `1,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The CSRs to approve summed by node and class, one line a node (`worker-1: 1,000
/// node-bootstrapper`), a node with more than two marked `!` and listed first; and how many
/// nodes are marked.
fn by_node_and_class(csrs: &[PendingCsr]) -> (Vec<String>, usize) {
    use std::collections::BTreeMap;
    let mut nodes: BTreeMap<Option<String>, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for c in csrs {
        *nodes.entry(c.node_name()).or_default().entry(c.class.as_str()).or_default() += 1;
    }
    let mut rows: Vec<(usize, String)> = nodes
        .into_iter()
        .map(|(node, classes)| {
            let total: usize = classes.values().sum();
            let node = node.as_deref().map(|n| safe_text_within(n, 64)).unwrap_or_else(|| "(no node named)".into());
            let counts: Vec<String> = classes.iter().map(|(class, n)| format!("{} {class}", thousands(*n))).collect();
            (total, format!("{node}: {}", counts.join(", ")))
        })
        .collect();
    // Suspicious first, most CSRs first; the others by node name (the map's order).
    rows.sort_by_key(|(total, _)| std::cmp::Reverse(if *total > PENDING_PER_NODE { *total } else { 0 }));
    let suspicious = rows.iter().filter(|(total, _)| *total > PENDING_PER_NODE).count();
    let shown = rows.len().min(NODE_LINES);
    let mut lines: Vec<String> = rows
        .iter()
        .take(shown)
        .map(|(total, line)| {
            if *total > PENDING_PER_NODE {
                format!("! {line}: suspicious, a kubelet files one client and one serving CSR")
            } else {
                format!("  {line}")
            }
        })
        .collect();
    if rows.len() > shown {
        let rest: usize = rows[shown..].iter().map(|(total, _)| total).sum();
        lines.push(format!("  ... and {} more node(s) with {} CSR(s)", rows.len() - shown, thousands(rest)));
    }
    (lines, suspicious)
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
            open: None,
            defrag: None,
            defrag_options: etcd_console_core::wizard::defrag::Options { quota_bytes, ..Default::default() },
            unfinished_defrag: None,
            quit_armed: false,
            backup: None,
            backup_dir: None,
            keys_dir: None,
            last_backup: None,
            encryption: None,
            restore: None,
            restore_backup: None,
            member: None,
            space: None,
            help_scroll: 0,
            screen: (80, 24),
            timeline: Default::default(),
            producer: Default::default(),
            who: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            show_timeline: false,
            timeline_view: Default::default(),
            notice_seen: None,
            notice_at: None,
            last_run_line: None,
        }
    }

    /// What the etcd pods and the etcd operator (held by the watches) say of the quota,
    /// matched to the members known now, and whether the quorum guard is off.
    pub fn refresh_quotas(&mut self) {
        let identities: Vec<_> = self.cluster.members.iter().map(|m| m.identity.clone()).collect();
        self.cluster.spec_quotas = self.openshift.surroundings().spec_quotas(&identities);
        // The quorum guard's badge is an alert like the others: the cluster state carries it.
        self.cluster.quorum_guard_off = self.openshift.one(Watched::Etcd).is_some_and(quorum_guard_off);
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

    /// The one wizard on the lower half, whose keys come first. A question typed into the
    /// restore's prompt keeps the restore there: keys go where the screen shows.
    pub fn open_wizard(&self) -> Option<WizardKind> {
        if self.restore_prompt_up() {
            return Some(WizardKind::Restore);
        }
        if self.member_prompt_up() {
            return Some(WizardKind::Member);
        }
        self.open.filter(|kind| self.has_wizard(*kind))
    }

    fn has_wizard(&self, kind: WizardKind) -> bool {
        match kind {
            WizardKind::Defrag => self.defrag.is_some(),
            WizardKind::Backup => self.backup.is_some(),
            WizardKind::Encryption => self.encryption.is_some(),
            WizardKind::Restore => self.restore.is_some(),
            WizardKind::Member => self.member.is_some(),
            WizardKind::Space => self.space.is_some(),
        }
    }

    /// Puts this wizard on the lower half in place of the one there.
    fn show_wizard(&mut self, kind: WizardKind) {
        self.open = Some(kind);
    }

    /// Takes the wizard off the lower half (a running one goes on, hidden).
    fn hide_wizard(&mut self, kind: WizardKind) {
        if self.open == Some(kind) {
            self.open = None;
        }
    }

    /// Drops the wizard (it runs nothing).
    fn close_wizard(&mut self, kind: WizardKind) {
        self.hide_wizard(kind);
        match kind {
            WizardKind::Defrag => self.defrag = None,
            WizardKind::Backup => self.backup = None,
            WizardKind::Encryption => self.encryption = None,
            WizardKind::Restore => self.restore = None,
            WizardKind::Member => self.member = None,
            WizardKind::Space => self.space = None,
        }
    }

    /// A key as the terminal reported it. A character with Alt that no key binds is a quick Esc
    /// then the character (terminals send both as one): two keys, so Esc closes what is open and
    /// the character does what it does after that.
    pub fn on_terminal_key(&mut self, key: crossterm::event::KeyEvent) -> Vec<Effect> {
        match keys::esc_then(key) {
            Some(plain) => {
                let esc = crossterm::event::KeyEvent::new(
                    crossterm::event::KeyCode::Esc,
                    crossterm::event::KeyModifiers::NONE,
                );
                self.on_key(esc).into_iter().chain(self.on_key(plain)).collect()
            }
            None => self.on_key(key).into_iter().collect(),
        }
    }

    /// Pasted text (bracketed paste): into the line being typed, never read as keys; nothing
    /// when no line is being typed.
    pub fn on_paste(&mut self, text: &str) {
        if self.show_timeline && self.timeline_view.editing_filter && self.confirm.is_none() {
            self.on_timeline_filter_paste(text);
        } else if self.openshift.editing_filter {
            self.openshift.filter_input.paste(text);
            let filter = self.openshift.filter_input.text().to_string();
            self.openshift.set_filter(filter);
        } else if let Some(prompt) = self.restore.as_mut().and_then(|w| w.prompt.as_mut()) {
            prompt.typed.paste(text);
        } else if let Some(prompt) = self.member.as_mut().and_then(|w| w.prompt.as_mut()) {
            prompt.typed.paste(text);
        }
    }

    /// The terminal's new size; the help stays within its end.
    pub fn on_resize(&mut self, columns: u16, rows: u16) {
        self.screen = (columns, rows);
        self.scroll_help(0);
    }

    /// Scrolls the help by `rows` (negative: up), within its first and last page.
    fn scroll_help(&mut self, rows: isize) {
        let (_, last_top) = crate::ui::help::pages(self.screen.0, self.screen.1);
        self.help_scroll = self.help_scroll.saturating_add_signed(rows).min(last_top);
    }

    /// Help's keys while it is shown: ↑↓ a row, PgUp/PgDn a page, Home/End its top and end.
    fn on_help_action(&mut self, action: Action) -> bool {
        let (page, last_top) = crate::ui::help::pages(self.screen.0, self.screen.1);
        let page = isize::try_from(page.max(1)).unwrap_or(1);
        match action {
            Action::SelectPrevious => self.scroll_help(-1),
            Action::SelectNext => self.scroll_help(1),
            Action::PageUp => self.scroll_help(-page),
            Action::PageDown => self.scroll_help(page),
            Action::SelectFirst => self.help_scroll = 0,
            Action::SelectLast => self.help_scroll = last_top,
            _ => return false,
        }
        true
    }

    /// A key: typed into the CSR filter or the restore's prompt while they are up, else its action.
    pub fn on_key(&mut self, key: crossterm::event::KeyEvent) -> Option<Effect> {
        if self.show_timeline && self.timeline_view.editing_filter && self.confirm.is_none() {
            self.on_timeline_filter_key(key);
            return None;
        }
        if self.openshift.editing_filter {
            self.on_filter_key(key);
            return None;
        }
        if self.restore_prompt_up() {
            return self.on_restore_key(key);
        }
        if self.member_prompt_up() {
            return self.on_member_key(key);
        }
        keys::action_for(key).and_then(|action| self.on_action(action))
    }

    /// A run the event loop could not start: said in the footer, and a backup wizard is never
    /// left showing a run that does not exist.
    pub fn not_started(&mut self, kind: WizardKind, reason: &str) {
        if kind == WizardKind::Backup {
            self.close_wizard(kind);
        }
        // The member wizard goes back to its plan: no run is going on.
        if let Some(wizard) = self.member.as_mut().filter(|_| kind == WizardKind::Member) {
            wizard.stage = member::Stage::Planning;
        }
        self.notice = Some(format!("{} not started: {reason}", kind.name()));
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
            // Only y is yes: an Enter meant for a wizard or a list never confirms a write.
            let offered = confirm.keys().hints().iter().any(|h| h.actions().contains(&action));
            let yes = offered && action == Action::Yes;
            if action == Action::Confirm {
                self.confirm = Some(confirm);
                return None;
            }
            return match action {
                _ if yes => match confirm.change {
                    Change::Defrag(ids) => self.start_defrag(&ids),
                    Change::ResumeDefrag => self.resume_defrag(),
                    Change::ForceBackup => self.start_backup(true),
                    Change::EncryptionYes => Some(Effect::Answer(Answer::Encryption(true))),
                    change => Some(Effect::Change(change)),
                },
                Action::CloseOverlay => {
                    self.notice = Some("cancelled: nothing changed".into());
                    (confirm.change == Change::EncryptionYes).then_some(Effect::Answer(Answer::Encryption(false)))
                }
                Action::Quit => Some(Effect::Quit),
                _ => {
                    self.confirm = Some(confirm);
                    None
                }
            };
        }
        if self.show_help && self.on_help_action(action) {
            return None;
        }
        // The timeline, when shown, covers the rest and takes its keys first.
        if self.show_timeline && !(self.show_help || self.show_alerts) && self.on_timeline_action(action).is_some() {
            return None;
        }
        match action {
            Action::ToggleTimeline => {
                self.show_timeline = true;
                self.show_help = false;
                self.show_alerts = false;
                return None;
            }
            Action::ExportTimeline => {
                let (markdown, name) = self.timeline_markdown();
                return Some(Effect::ExportTimeline { markdown, name });
            }
            _ => {}
        }
        // The wizard on screen takes its keys first (not while help or the alerts cover it).
        if !(self.show_help || self.show_alerts) {
            let taken = match self.open_wizard() {
                Some(WizardKind::Defrag) => self.on_defrag_action(action),
                Some(WizardKind::Backup) => self.on_backup_action(action),
                Some(WizardKind::Encryption) => self.on_encryption_action(action),
                Some(WizardKind::Restore) => self.on_restore_action(action),
                Some(WizardKind::Member) => self.on_member_action(action),
                Some(WizardKind::Space) => self.on_space_action(action),
                None => None,
            };
            if let Some(effect) = taken {
                return effect;
            }
        }
        // A wizard's key opens it in place of the one open.
        match WizardKind::opened_by(action) {
            Some(WizardKind::Defrag) => return self.open_defrag(),
            Some(WizardKind::Backup) => return self.open_backup(),
            Some(WizardKind::Encryption) => return self.open_encryption(),
            Some(WizardKind::Restore) => return self.open_restore(),
            Some(WizardKind::Member) => return self.open_member(),
            Some(WizardKind::Space) => return self.open_space(),
            None => {}
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

    /// The cluster as every confirmation names it: the infrastructure name and the API host (from
    /// the watches), with the etcd cluster ID beside them; what is not known is left out.
    pub fn cluster_named(&self) -> String {
        let infrastructure = self
            .openshift
            .one(Watched::Infrastructure)
            .and_then(|i| i.pointer("/status/infrastructureName"))
            .and_then(serde_json::Value::as_str);
        let api = match &self.openshift.api {
            openshift::ApiState::Connected { server } => Some(server.as_str()),
            _ => None,
        };
        etcd_console_core::cluster::cluster_naming(infrastructure, api, self.cluster.cluster_id())
    }

    /// The one way a confirmation is made: its question, then the cluster named as everywhere,
    /// then what it changes.
    pub fn confirmation(&self, title: String, lines: Vec<String>, change: Change) -> Confirm {
        let mut all = vec![self.cluster_named()];
        all.extend(lines);
        Confirm { title, lines: all, change }
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
        if *selection == Selection::AllValid {
            let over = csr::over_pending_limit(self.openshift.pending_csrs(), std::time::SystemTime::now());
            if let Some((recent, limit)) = over {
                self.notice = Some(csr::over_limit_text(recent, limit));
                return;
            }
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
        let (mut lines, suspicious) = by_node_and_class(&plan.approve);
        for c in plan.approve.iter().filter(|c| !c.class.is_valid()) {
            lines.push(format!("! {} is unexpected: {}", safe_text_within(&c.name, 64), safe_text(&c.reason)));
        }
        if !plan.refused.is_empty() {
            lines.push(format!("left out: {} unexpected CSR(s), never approved in bulk", plan.refused.len()));
        }
        let names = plan.approve.iter().map(|c| c.name.clone()).collect();
        let nodes = plan.approve.iter().map(|c| c.node_name()).collect::<std::collections::BTreeSet<_>>().len();
        let mut title = format!("Approve {} CSR(s) for {} node(s)?", thousands(plan.approve.len()), thousands(nodes));
        if suspicious > 0 {
            title.push_str(&format!(" {suspicious} node(s) suspicious: more than two CSRs pending"));
        }
        self.confirm = Some(self.confirmation(title, lines, Change::ApproveCsrs(names)));
    }

    fn ask_to_deny(&mut self) {
        if let Some(why) = self.change_refused() {
            self.notice = Some(why);
            return;
        }
        let Some(c) = self.openshift.selected_csr().cloned() else { return };
        let lines = vec![
            format!("{}  {}  {}", safe_text(&c.name), c.class.as_str(), safe_text(&c.subject())),
            format!("node {}", c.node_name().as_deref().map(safe_text).unwrap_or_else(|| "unknown".into())),
            format!("requestor {}", safe_text(&c.requestor)),
        ];
        self.confirm = Some(self.confirmation(format!("Deny {}?", safe_text(&c.name)), lines, Change::DenyCsr(c.name)));
    }

    /// A key while the filter is typed, by EDIT_KEYS: Enter keeps it, Esc clears it, the
    /// others edit it; the list follows every change.
    pub fn on_filter_key(&mut self, key: crossterm::event::KeyEvent) {
        let input = &mut self.openshift.filter_input;
        match input.key(key) {
            Typed::Keep => self.openshift.editing_filter = false,
            Typed::Drop => {
                input.clear();
                self.openshift.editing_filter = false;
            }
            Typed::Edited => {}
        }
        let filter = self.openshift.filter_input.text().to_string();
        self.openshift.set_filter(filter);
    }

    fn on_common_action(&mut self, action: Action) -> Option<Effect> {
        let last = self.cluster.members.len().saturating_sub(1);
        match action {
            Action::NextView => {
                self.view = match self.view {
                    View::Member => View::OpenShift,
                    View::OpenShift => View::Csrs,
                    View::Csrs => View::Nodes,
                    View::Nodes => View::Member,
                }
            }
            Action::Quit => {
                let replacing = self.member.as_ref().is_some_and(|w| w.stage == member::Stage::Running);
                if replacing && !self.quit_armed {
                    self.quit_armed = true;
                    self.notice = Some(
                        "a member replacement is running: x stops it after the step in flight; q again quits now (the journal keeps where it was)"
                            .into(),
                    );
                    return None;
                }
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
                self.help_scroll = 0;
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
            | Action::Stop
            | Action::OpenBackup
            | Action::ForceBackup
            | Action::OpenSpace
            | Action::OpenEncryption
            | Action::OpenRestore
            | Action::OpenMember
            | Action::PageUp
            | Action::PageDown
            | Action::ToggleTimeline
            | Action::ExportTimeline => {}
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
            node: None,
            pending_limit: None,
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
        assert_eq!(confirm.title, "Approve 2 CSR(s) for 2 node(s)?");
        assert_eq!(confirm.lines[0], "etcd cluster ID not read yet", "the cluster named first, as it is known");
        assert!(
            confirm.lines.contains(&"  csr-a: 1 node-bootstrapper".to_string())
                && confirm.lines.contains(&"  csr-c: 1 kubelet-serving".to_string()),
            "{:?}",
            confirm.lines
        );
        assert!(confirm.lines.iter().any(|l| l.contains("left out: 1 unexpected")));
        // Other keys do not slip past the question.
        assert_eq!(app.on_action(Action::SelectNext), None);
        assert!(app.confirm.is_some());
        assert_eq!(app.on_action(Action::Confirm), None, "Enter is no yes to a write");
        assert!(app.confirm.is_some(), "the question stays up after Enter");
        let effect = app.on_action(Action::Yes);
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
    fn one_wizard_is_open_and_the_stop_key_stops_only_its_run() {
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), Instant::now());
        app.backup_dir = Some("/backups".into());
        assert_eq!(app.open_wizard(), None);
        app.on_action(Action::OpenBackup);
        assert_eq!(app.open_wizard(), Some(WizardKind::Backup));
        assert_eq!(app.on_action(Action::Confirm), Some(Effect::Start(Start::Backup { force: false, keys_dir: None })));
        // Another wizard's key opens that one in place of the backup, which goes on hidden.
        app.on_action(Action::OpenDefrag);
        assert_eq!(app.open_wizard(), Some(WizardKind::Defrag));
        assert_eq!(app.on_action(Action::Stop), None, "the defrag wizard open runs nothing: the backup goes on");
        app.on_action(Action::OpenBackup);
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Backup)));
        // Esc hides a running wizard; its key shows it again.
        app.on_action(Action::CloseOverlay);
        assert_eq!(app.open_wizard(), None);
        assert!(app.backup.is_some());
        app.on_action(Action::OpenBackup);
        assert_eq!(app.open_wizard(), Some(WizardKind::Backup));
        // Esc drops a wizard that runs nothing; nothing else comes up in its place.
        app.on_action(Action::OpenDefrag);
        app.on_action(Action::CloseOverlay);
        assert!(app.defrag.is_none());
        assert_eq!(app.open_wizard(), None);
        // A backup the loop could not start is not left on screen.
        app.not_started(WizardKind::Backup, "no backup directory");
        assert!(app.backup.is_none());
        assert_eq!(app.notice.as_deref(), Some("backup not started: no backup directory"));
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

    #[test]
    fn d_names_the_csrs_node_and_the_cluster_and_enter_does_not_deny() {
        let mut app = csr_view(Instant::now());
        app.openshift.on_event(OpenShiftEvent::Connected { server: "https://api.ocp.example.com:6443".into() });
        app.on_action(Action::SelectLast);
        app.on_action(Action::DenyCsr);
        let confirm = app.confirm.clone().unwrap();
        assert_eq!(confirm.title, "Deny csr-c?");
        assert_eq!(confirm.lines[0], "cluster at api.ocp.example.com:6443 · etcd cluster ID not read yet");
        assert!(confirm.lines.contains(&"node csr-c".to_string()), "{:?}", confirm.lines);
        assert_eq!(app.on_action(Action::Confirm), None, "Enter denies nothing");
        assert!(app.confirm.is_some());
        assert_eq!(app.on_action(Action::Yes), Some(Effect::Change(Change::DenyCsr("csr-c".into()))));
    }

    #[test]
    fn a_bulk_approval_sums_by_node_and_class_and_flags_a_node_with_more_than_two() {
        let t0 = Instant::now();
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), t0);
        app.view = View::Csrs;
        let mut pending: Vec<PendingCsr> = (0..1000)
            .map(|i| PendingCsr {
                node: Some("worker-1".into()),
                ..csr(&format!("csr-w{i}"), CsrClass::NodeBootstrapper)
            })
            .collect();
        for node in ["master-1", "master-2"] {
            pending.push(PendingCsr {
                node: Some(node.into()),
                ..csr(&format!("csr-{node}"), CsrClass::NodeBootstrapper)
            });
            pending.push(csr(node, CsrClass::KubeletServing));
        }
        app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: t0 });
        app.on_action(Action::ApproveAllValid);
        let confirm = app.confirm.clone().unwrap();
        assert_eq!(
            confirm.title,
            "Approve 1,004 CSR(s) for 3 node(s)? 1 node(s) suspicious: more than two CSRs pending"
        );
        assert_eq!(
            confirm.lines[1..4],
            [
                "! worker-1: 1,000 node-bootstrapper: suspicious, a kubelet files one client and one serving CSR",
                "  master-1: 1 kubelet-serving, 1 node-bootstrapper",
                "  master-2: 1 kubelet-serving, 1 node-bootstrapper",
            ]
        );
        assert!(!confirm.lines.iter().any(|l| l.contains("csr-w1")), "no names listed one by one");
        assert_eq!(app.on_action(Action::Confirm), None, "Enter does not approve");
        let Some(Effect::Change(Change::ApproveCsrs(names))) = app.on_action(Action::Yes) else { panic!() };
        assert_eq!(names.len(), 1004);
    }

    fn key(code: crossterm::event::KeyCode, modifiers: crossterm::event::KeyModifiers) -> crossterm::event::KeyEvent {
        crossterm::event::KeyEvent::new(code, modifiers)
    }

    #[test]
    fn alt_q_on_a_confirmation_cancels_it_and_then_quits() {
        use crossterm::event::{KeyCode, KeyModifiers};
        let mut app = csr_view(Instant::now());
        app.on_action(Action::ApproveAllValid);
        assert!(app.confirm.is_some());
        // A quick Esc then q comes as Alt-q: the question is cancelled (nothing approved), then q quits.
        let effects = app.on_terminal_key(key(KeyCode::Char('q'), KeyModifiers::ALT));
        assert_eq!(effects, vec![Effect::Quit]);
        assert!(app.confirm.is_none());
        assert_eq!(app.notice.as_deref(), Some("cancelled: nothing changed"));
    }

    #[test]
    fn alt_q_with_help_shown_closes_help_then_quits() {
        use crossterm::event::{KeyCode, KeyModifiers};
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), Instant::now());
        app.on_action(Action::ToggleHelp);
        assert_eq!(app.on_terminal_key(key(KeyCode::Char('q'), KeyModifiers::ALT)), vec![Effect::Quit]);
        assert!(!app.show_help);
        // Alt-a: help closed by the Esc, then the alerts opened by the a.
        app.on_action(Action::ToggleHelp);
        assert!(app.on_terminal_key(key(KeyCode::Char('a'), KeyModifiers::ALT)).is_empty());
        assert!(!app.show_help && app.show_alerts);
    }

    #[test]
    fn alt_and_a_character_in_the_filter_clears_it_then_acts() {
        use crossterm::event::{KeyCode, KeyModifiers};
        let mut app = csr_view(Instant::now());
        app.on_action(Action::FilterCsrs);
        for c in "csr-a".chars() {
            app.on_terminal_key(key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        assert_eq!(app.openshift.visible_csrs().len(), 1);
        // Esc clears the filter; the j that follows moves the selection, it is not typed.
        app.on_terminal_key(key(KeyCode::Char('j'), KeyModifiers::ALT));
        assert!(!app.openshift.editing_filter);
        assert_eq!(app.openshift.filter, "");
        assert_eq!(app.openshift.csr_selected, 1);
    }

    #[test]
    fn the_filter_edits_with_ctrl_w_and_a_paste_goes_in_whole_never_as_keys() {
        use crossterm::event::{KeyCode, KeyModifiers};
        let mut app = csr_view(Instant::now());
        // Pasted with nothing being typed: nothing happens (its q does not quit, nothing is filtered).
        app.on_paste("q");
        assert_eq!(app.openshift.visible_csrs().len(), 3);
        app.on_action(Action::FilterCsrs);
        for c in "csr-a bogus".chars() {
            app.on_terminal_key(key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        assert_eq!(app.openshift.visible_csrs().len(), 0);
        app.on_terminal_key(key(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(app.openshift.filter, "csr-a ");
        assert_eq!(app.openshift.visible_csrs().len(), 1, "filtered by what is left");
        app.on_terminal_key(key(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(app.openshift.visible_csrs().len(), 3);
        // A paste with a line break and an escape: its first line, without the escape, and it
        // stays being typed (the line break is not an Enter).
        app.on_paste("csr-\u{1b}c\nq");
        assert_eq!(app.openshift.filter, "csr-c");
        assert!(app.openshift.editing_filter);
        assert_eq!(app.openshift.visible_csrs().len(), 1);
    }

    #[test]
    fn the_timeline_filter_edits_with_ctrl_w_and_takes_a_paste() {
        use crossterm::event::{KeyCode, KeyModifiers};
        use etcd_console_core::timeline::{Event, Kind, Source};
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), Instant::now());
        for message in ["leader moved to master-1", "master-2 went silent"] {
            app.timeline.push(Event::new(
                std::time::SystemTime::UNIX_EPOCH,
                Kind::Notice,
                Source::Console,
                None,
                message.into(),
            ));
        }
        app.on_action(Action::ToggleTimeline);
        app.on_action(Action::FilterCsrs);
        for c in "silent nothing".chars() {
            app.on_terminal_key(key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        assert!(app.timeline_rows().is_empty());
        app.on_terminal_key(key(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(app.timeline_rows().len(), 1, "filtered by what is left: {:?}", app.timeline_view.filter);
        app.on_terminal_key(key(KeyCode::Char('u'), KeyModifiers::CONTROL));
        app.on_paste("leader\nq");
        assert_eq!(app.timeline_view.filter, "leader");
        assert!(app.timeline_view.editing_filter && app.show_timeline, "the pasted q neither ends typing nor quits");
        assert_eq!(app.timeline_rows().len(), 1);
    }
}
