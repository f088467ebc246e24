//! The key table: the one list that maps keys to actions and feeds the help
//! screen, the footer and every pane's and prompt's key hints, so they never
//! drift from what the keys do.
//!
//! `KEY_TABLE` binds keys to actions (help lists it whole, the footer the
//! entries it marks). `HINT_TABLE` gives, for each `Context` (a pane in one of
//! its states, a prompt, a dialog), the keys it offers there, each with the
//! action it does and its words in that place; the ui builds every hint from
//! it, and the tests press each one to check the handler for that state acts
//! on it. `EDIT_KEYS` is what keys do to a line being typed (the CSR filter,
//! the restore prompt); both handlers go by it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    ToggleAlerts,
    Suspend,
    CloseOverlay,
    SelectPrevious,
    SelectNext,
    SelectFirst,
    SelectLast,
    RefreshNow,
    NextView,
    ApproveCsr,
    ApproveAllValid,
    DenyCsr,
    FilterCsrs,
    Confirm,
    Yes,
    OpenDefrag,
    ToggleMoveLeader,
    ToggleEveryMember,
    Stop,
    OpenBackup,
    ForceBackup,
    /// `s`: the space view; in the backup wizard, save the encryption keys too (or not).
    OpenSpace,
    OpenEncryption,
    OpenRestore,
    OpenMember,
    /// PgUp/PgDn: the help a page up or down.
    PageUp,
    PageDown,
    /// `t`: the incident timeline (its keys: ↑↓ scroll, / filter, Esc closes).
    ToggleTimeline,
    /// `T`: write the timeline as Markdown for the postmortem.
    ExportTimeline,
}

#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

const fn plain(code: KeyCode) -> Key {
    Key { code, modifiers: KeyModifiers::NONE }
}

const fn ctrl(c: char) -> Key {
    Key { code: KeyCode::Char(c), modifiers: KeyModifiers::CONTROL }
}

pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written in help and footer.
    pub label: &'static str,
    pub action: Action,
    pub description: &'static str,
    /// The footer's keys and word for it; None keeps it out of the footer (it is still in help).
    pub footer: Option<(&'static str, &'static str)>,
}

pub const KEY_TABLE: &[Binding] = &[
    Binding {
        keys: &[plain(KeyCode::Char('q')), ctrl('c')],
        label: "q",
        action: Action::Quit,
        description: "quit (also Ctrl-C)",
        footer: Some(("q", "quit")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('?'))],
        label: "?",
        action: Action::ToggleHelp,
        description: "show or hide this help",
        footer: Some(("?", "help")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('a'))],
        label: "a",
        action: Action::ToggleAlerts,
        description: "show or hide every alert with its message",
        footer: Some(("a", "alerts")),
    },
    Binding {
        keys: &[plain(KeyCode::Esc), plain(KeyCode::Char('n'))],
        label: "Esc/n",
        action: Action::CloseOverlay,
        description: "close help or alerts; cancel a confirmation",
        footer: Some(("Esc", "close")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('y'))],
        label: "y",
        action: Action::Yes,
        description: "yes: do what the confirmation names",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        action: Action::Confirm,
        description: "start the wizard shown (its confirmation then takes y, never Enter)",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Up), plain(KeyCode::Char('k'))],
        label: "↑/k",
        action: Action::SelectPrevious,
        description: "select the member (CSR view: the CSR) above; help: scroll up",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Down), plain(KeyCode::Char('j'))],
        label: "↓/j",
        action: Action::SelectNext,
        description: "select the member (CSR view: the CSR) below; help: scroll down",
        footer: Some(("↑↓", "select")),
    },
    Binding {
        keys: &[plain(KeyCode::Home), plain(KeyCode::Char('g'))],
        label: "Home/g",
        action: Action::SelectFirst,
        description: "select the first member; help: its top",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::End), plain(KeyCode::Char('G'))],
        label: "End/G",
        action: Action::SelectLast,
        description: "select the last member; help: its end",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::PageUp)],
        label: "PgUp",
        action: Action::PageUp,
        description: "help: a page up",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::PageDown)],
        label: "PgDn",
        action: Action::PageDown,
        description: "help: a page down",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Tab)],
        label: "Tab",
        action: Action::NextView,
        description: "lower half: member/DB → OpenShift → CSRs → nodes",
        footer: Some(("Tab", "view")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('A'))],
        label: "A",
        action: Action::ApproveCsr,
        description: "CSR view: approve the selected CSR (asks first)",
        footer: Some(("A", "approve")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('V'))],
        label: "V",
        action: Action::ApproveAllValid,
        description: "CSR view: approve every valid CSR shown (asks)",
        footer: Some(("V", "all valid")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('D'))],
        label: "D",
        action: Action::DenyCsr,
        description: "CSR view: deny the selected CSR (asks first)",
        footer: Some(("D", "deny")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('/'))],
        label: "/",
        action: Action::FilterCsrs,
        description: "CSR view and timeline: filter (Enter keeps, Esc clears)",
        footer: Some(("/", "filter")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('d'))],
        label: "d",
        action: Action::OpenDefrag,
        description: "defrag wizard: plan, leader last; Enter starts",
        footer: Some(("d", "defrag")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('e'))],
        label: "e",
        action: Action::ToggleEveryMember,
        description: "defrag plan: every member or OpenShift's rule",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('m'))],
        label: "m",
        action: Action::ToggleMoveLeader,
        description: "defrag plan: move the leadership first",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('x'))],
        label: "x",
        action: Action::Stop,
        description: "stop the run shown (defrag: before the next member; backup: now)",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('b'))],
        label: "b",
        action: Action::OpenBackup,
        description: "backup wizard: a verified snapshot of a follower; Enter takes it",
        footer: Some(("b", "backup")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('s'))],
        label: "s",
        action: Action::OpenSpace,
        description: "what fills etcd, per resource (backup wizard: keys too / not)",
        footer: Some(("s", "space")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('f'))],
        label: "f",
        action: Action::ForceBackup,
        description: "backup refused by a check: take it anyway, marked __POSSIBLY_DIRTY__ (asks first)",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('E'))],
        label: "E",
        action: Action::OpenEncryption,
        description: "encryption wizard: ↑↓ type, b backup first, Enter asks",
        footer: Some(("E", "encryption")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('R'))],
        label: "R",
        action: Action::OpenRestore,
        description: "restore wizard (--restore-backup DIR): ↑↓ recovery host, Enter runs, typed name",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('M'))],
        label: "M",
        action: Action::OpenMember,
        description: "replace the selected member: its plan and gates; Enter runs, typed CLUSTER/MEMBER",
        footer: Some(("M", "replace")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('t'))],
        label: "t",
        action: Action::ToggleTimeline,
        description: "incident timeline, newest first: ↑↓ scroll, / filter, Esc closes",
        footer: Some(("t", "timeline")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('T'))],
        label: "T",
        action: Action::ExportTimeline,
        description: "write the timeline as Markdown (UTC times, the cluster named) for the postmortem",
        footer: Some(("T", "Markdown")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('r'))],
        label: "r",
        action: Action::RefreshNow,
        description: "ask every member now (retries discovery at once)",
        footer: Some(("r", "refresh")),
    },
    Binding {
        keys: &[ctrl('z')],
        label: "Ctrl-Z",
        action: Action::Suspend,
        description: "suspend to the shell (fg brings it back)",
        footer: None,
    },
];

/// Where the footer is: which keys matter there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The members view (the member's detail and DB below).
    Members,
    /// The OpenShift view.
    OpenShift,
    /// The CSR view.
    Csrs,
    /// A wizard (or the space view) on the lower half: its pane shows its own keys.
    Wizard,
    /// The timeline pane.
    Timeline,
}

/// The footer's keys in each place, most important first (the footer shows them in this order
/// and leaves out the last ones when they do not fit; `?` then ends it). Each action's binding
/// gives its keys and word (`Binding::footer`).
pub const FOOTER_TABLE: &[(Place, &[Action])] = &[
    (
        Place::Members,
        &[
            Action::Quit,
            Action::NextView,
            Action::SelectNext,
            Action::ToggleTimeline,
            Action::OpenDefrag,
            Action::OpenBackup,
            Action::OpenMember,
            Action::OpenSpace,
            Action::OpenEncryption,
            Action::ToggleAlerts,
            Action::RefreshNow,
        ],
    ),
    (
        Place::OpenShift,
        &[
            Action::Quit,
            Action::NextView,
            Action::OpenEncryption,
            Action::ToggleTimeline,
            Action::ToggleAlerts,
            Action::OpenBackup,
            Action::OpenDefrag,
            Action::OpenSpace,
            Action::RefreshNow,
        ],
    ),
    (
        Place::Csrs,
        &[
            Action::Quit,
            Action::NextView,
            Action::ApproveCsr,
            Action::ApproveAllValid,
            Action::DenyCsr,
            Action::FilterCsrs,
            Action::SelectNext,
            Action::ToggleAlerts,
            Action::RefreshNow,
            Action::OpenDefrag,
            Action::OpenBackup,
        ],
    ),
    (Place::Wizard, &[Action::Quit, Action::CloseOverlay, Action::ToggleAlerts]),
    (
        Place::Timeline,
        &[Action::Quit, Action::CloseOverlay, Action::FilterCsrs, Action::ExportTimeline, Action::ToggleAlerts],
    ),
];

/// The footer's entries of a place, most important first: (keys, word).
pub fn footer_keys(place: Place) -> Vec<(&'static str, &'static str)> {
    let actions = FOOTER_TABLE.iter().find(|(p, _)| *p == place).map_or(&[][..], |(_, actions)| *actions);
    actions.iter().filter_map(|a| KEY_TABLE.iter().find(|b| b.action == *a).and_then(|b| b.footer)).collect()
}

/// The footer's entry that ends it: help, where every key is.
pub fn footer_help() -> (&'static str, &'static str) {
    KEY_TABLE.iter().find(|b| b.action == Action::ToggleHelp).and_then(|b| b.footer).unwrap_or(("?", "help"))
}

/// What a key does to a line being typed (the CSR filter, the restore and member prompts); the
/// other characters are typed into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Enter: the filter is kept; a prompt is answered with what was typed.
    Keep,
    /// Esc: the filter is cleared; the prompt is answered with nothing (no).
    Drop,
    /// Backspace: the character before the cursor goes.
    Erase,
    /// Delete: the character under the cursor goes.
    EraseNext,
    /// Ctrl-W: the word before the cursor goes.
    EraseWord,
    /// Ctrl-U: the whole line goes.
    EraseLine,
    /// ←: the cursor a character left.
    Left,
    /// →: the cursor a character right.
    Right,
    /// Home, Ctrl-A: the cursor to the start.
    Start,
    /// End, Ctrl-E: the cursor to the end.
    End,
}

/// A key of a line being typed, as help lists it.
pub struct EditBinding {
    pub keys: &'static [Key],
    pub label: &'static str,
    pub edit: Edit,
    pub description: &'static str,
}

/// The keys of a line being typed (Enter, Esc and the other keys that are not characters match
/// whatever the modifiers; the Ctrl keys need Ctrl).
pub const EDIT_KEYS: &[EditBinding] = &[
    EditBinding {
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        edit: Edit::Keep,
        description: "keep the filter; answer the prompt",
    },
    EditBinding {
        keys: &[plain(KeyCode::Esc)],
        label: "Esc",
        edit: Edit::Drop,
        description: "clear the filter; cancel the prompt",
    },
    EditBinding { keys: &[plain(KeyCode::Left)], label: "←", edit: Edit::Left, description: "cursor left" },
    EditBinding { keys: &[plain(KeyCode::Right)], label: "→", edit: Edit::Right, description: "cursor right" },
    EditBinding {
        keys: &[plain(KeyCode::Home), ctrl('a')],
        label: "Home/^A",
        edit: Edit::Start,
        description: "cursor to the start",
    },
    EditBinding {
        keys: &[plain(KeyCode::End), ctrl('e')],
        label: "End/^E",
        edit: Edit::End,
        description: "cursor to the end",
    },
    EditBinding {
        keys: &[plain(KeyCode::Backspace)],
        label: "Bksp",
        edit: Edit::Erase,
        description: "delete the character before the cursor",
    },
    EditBinding {
        keys: &[plain(KeyCode::Delete)],
        label: "Del",
        edit: Edit::EraseNext,
        description: "delete the character under the cursor",
    },
    EditBinding {
        keys: &[ctrl('w')],
        label: "Ctrl-W",
        edit: Edit::EraseWord,
        description: "delete the word before the cursor",
    },
    EditBinding { keys: &[ctrl('u')], label: "Ctrl-U", edit: Edit::EraseLine, description: "delete the whole line" },
];

/// What a key does to a line being typed, if it is not a character typed into it.
pub fn edit_for(event: KeyEvent) -> Option<Edit> {
    let modifiers = event.modifiers - KeyModifiers::SHIFT;
    EDIT_KEYS
        .iter()
        .find(|b| {
            b.keys
                .iter()
                .any(|k| k.code == event.code && (!matches!(k.code, KeyCode::Char(_)) || k.modifiers == modifiers))
        })
        .map(|b| b.edit)
}

/// A character typed with Alt that no binding takes: a terminal's way of saying Esc and then
/// the character, pressed quickly one after the other.
pub fn esc_then(event: KeyEvent) -> Option<KeyEvent> {
    let KeyCode::Char(_) = event.code else { return None };
    if !event.modifiers.contains(KeyModifiers::ALT) || action_for(event).is_some() {
        return None;
    }
    Some(KeyEvent::new(event.code, event.modifiers - KeyModifiers::ALT))
}

/// What a hinted key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Does {
    /// These actions, by their keys in KEY_TABLE (↑↓ is two).
    Actions(&'static [Action]),
    /// This edit of the line being typed (EDIT_KEYS).
    Edit(Edit),
}

/// A key as one place shows it: how it is written there, what it does, and
/// its words there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// Words said before the key when it is written in a sentence ("press ").
    pub lead: &'static str,
    /// How the key is written there ("↑↓" for ↑/k and ↓/j).
    pub label: &'static str,
    pub does: Does,
    /// The words after the key there.
    pub word: &'static str,
}

impl Hint {
    /// The actions it does (none for an edit).
    pub fn actions(&self) -> &'static [Action] {
        match self.does {
            Does::Actions(actions) => actions,
            Does::Edit(_) => &[],
        }
    }
}

const fn hint(label: &'static str, action: &'static [Action], word: &'static str) -> Hint {
    Hint { lead: "", label, does: Does::Actions(action), word }
}

const fn edit(label: &'static str, edit: Edit, word: &'static str) -> Hint {
    Hint { lead: "", label, does: Does::Edit(edit), word }
}

const ENTER: &[Action] = &[Action::Confirm];
const ESC: &[Action] = &[Action::CloseOverlay];
const STOP: &[Action] = &[Action::Stop];
const UP_DOWN: &[Action] = &[Action::SelectPrevious, Action::SelectNext];

/// A place that shows keys: a pane in one of its states, a prompt, a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A change's confirmation: only y is yes (an Enter never confirms a write).
    Confirm,
    /// The encryption engine's question: only y is yes.
    ConfirmEncryption,
    /// The alerts overlay's title.
    Alerts,
    /// The members pane while no member answers.
    Retry,
    /// The CSR view's detail, when this user may approve.
    CsrActions,
    /// Defrag: an unfinished run found in the journal.
    DefragResume,
    DefragPlan,
    /// Defrag: NOSPACE is raised, the form that clears it.
    DefragNospace,
    /// Defrag: the rule leaves no member (the pane and the footer say it).
    DefragNoneNeeded,
    DefragRunning,
    DefragFinished,
    BackupReady,
    BackupRunning,
    /// Backup: running, x already pressed.
    BackupStopping,
    BackupFinished,
    /// Backup: refused by a check --force may override.
    BackupRefused,
    EncryptionChoosing,
    /// Encryption: running, nothing patched yet.
    EncryptionUnpatched,
    /// Encryption: patched, the operators followed.
    EncryptionFollowing,
    /// Encryption: patched, x already pressed.
    EncryptionStopping,
    EncryptionFinished,
    /// Restore plan: no recovery host chosen yet.
    RestoreChoose,
    /// Restore plan: a recovery host chosen.
    RestoreAnother,
    /// Restore plan: every gate passes.
    RestoreReady,
    RestoreRunning,
    /// The restore prompt: the cluster's name typed.
    RestoreName,
    /// The restore prompt: a step only a person can do.
    RestoreStep,
    /// Member replacement plan: every gate passes.
    MemberReady,
    /// Member replacement: an unfinished run of this member in the journal.
    MemberResume,
    /// Member replacement plan: a gate does not pass (or the cluster could not be read).
    MemberRefused,
    MemberRunning,
    MemberFinished,
    /// The member replacement's prompt: `CLUSTER/MEMBER` typed.
    MemberConfirm,
    /// The member replacement's prompt: a step only a person can do (OpenShift 4.3).
    MemberStep,
    /// The incident timeline (`t`).
    Timeline,
    /// The space view while a reading is under way.
    SpaceReading,
    /// The space view with its reading (or why there is none).
    SpaceDone,
}

impl Context {
    /// Every context (SpaceDone is the last: the length follows it).
    pub const ALL: [Context; Context::SpaceDone as usize + 1] = [
        Context::Confirm,
        Context::ConfirmEncryption,
        Context::Alerts,
        Context::Retry,
        Context::CsrActions,
        Context::DefragResume,
        Context::DefragPlan,
        Context::DefragNospace,
        Context::DefragNoneNeeded,
        Context::DefragRunning,
        Context::DefragFinished,
        Context::BackupReady,
        Context::BackupRunning,
        Context::BackupStopping,
        Context::BackupFinished,
        Context::BackupRefused,
        Context::EncryptionChoosing,
        Context::EncryptionUnpatched,
        Context::EncryptionFollowing,
        Context::EncryptionStopping,
        Context::EncryptionFinished,
        Context::RestoreChoose,
        Context::RestoreAnother,
        Context::RestoreReady,
        Context::RestoreRunning,
        Context::RestoreName,
        Context::RestoreStep,
        Context::MemberReady,
        Context::MemberResume,
        Context::MemberRefused,
        Context::MemberRunning,
        Context::MemberFinished,
        Context::MemberConfirm,
        Context::MemberStep,
        Context::Timeline,
        Context::SpaceReading,
        Context::SpaceDone,
    ];

    /// The keys this place offers, in the order shown (its entry in HINT_TABLE).
    pub fn hints(self) -> &'static [Hint] {
        HINT_TABLE.iter().find(|(context, _)| *context == self).map_or(&[], |(_, hints)| *hints)
    }
}

/// Each place's keys: what it writes for each, and what the key does there.
pub const HINT_TABLE: &[(Context, &[Hint])] = &[
    (Context::Confirm, &[hint("y", &[Action::Yes], "do it"), hint("n", ESC, "cancel"), hint("Esc", ESC, "cancel")]),
    (
        Context::ConfirmEncryption,
        &[hint("y", &[Action::Yes], "do it"), hint("n", ESC, "cancel"), hint("Esc", ESC, "cancel")],
    ),
    (Context::Alerts, &[hint("a", &[Action::ToggleAlerts], "to close"), hint("Esc", ESC, "to close")]),
    (Context::Retry, &[Hint { lead: "press ", ..hint("r", &[Action::RefreshNow], "to try now") }]),
    (
        Context::CsrActions,
        &[
            hint("A", &[Action::ApproveCsr], "approve"),
            hint("V", &[Action::ApproveAllValid], "all valid"),
            hint("D", &[Action::DenyCsr], "deny"),
            hint("/", &[Action::FilterCsrs], "filter"),
        ],
    ),
    (Context::DefragResume, &[hint("Enter", ENTER, "resume (asks)"), hint("Esc", ESC, "close")]),
    (
        Context::DefragPlan,
        &[
            hint("Enter", ENTER, "start (asks)"),
            hint("e", &[Action::ToggleEveryMember], "every member / OpenShift's rule"),
            hint("m", &[Action::ToggleMoveLeader], "move leader"),
            hint("Esc", ESC, "close"),
        ],
    ),
    (
        Context::DefragNospace,
        &[
            hint("Enter", ENTER, "compact, defrag, disarm (asks)"),
            hint("m", &[Action::ToggleMoveLeader], "move leader"),
            hint("Esc", ESC, "close"),
        ],
    ),
    (Context::DefragNoneNeeded, &[hint("e", &[Action::ToggleEveryMember], "every member")]),
    (Context::DefragRunning, &[hint("x", STOP, "stop before the next member"), hint("Esc", ESC, "hide")]),
    (Context::DefragFinished, &[hint("Esc", ESC, "close")]),
    (
        Context::BackupReady,
        &[
            hint("Enter", ENTER, "take it (checks again first)"),
            hint("s", &[Action::OpenSpace], "keys too / not"),
            hint("Esc", ESC, "close"),
        ],
    ),
    (Context::BackupRunning, &[hint("x", STOP, "stop (nothing is kept)"), hint("Esc", ESC, "hide (it goes on)")]),
    (Context::BackupStopping, &[hint("x", STOP, "stopping ..."), hint("Esc", ESC, "hide (it goes on)")]),
    (
        Context::BackupFinished,
        &[
            hint("Enter", ENTER, "take another"),
            hint("s", &[Action::OpenSpace], "keys too / not"),
            hint("Esc", ESC, "close"),
        ],
    ),
    (
        Context::BackupRefused,
        &[
            hint("f", &[Action::ForceBackup], "take it anyway, marked __POSSIBLY_DIRTY__ (asks)"),
            hint("Enter", ENTER, "take another"),
            hint("Esc", ESC, "close"),
        ],
    ),
    (
        Context::EncryptionChoosing,
        &[
            hint("↑↓", UP_DOWN, "type"),
            hint("b", &[Action::OpenBackup], "backup first"),
            hint("Enter", ENTER, "read, plan, ask"),
            hint("Esc", ESC, "close"),
        ],
    ),
    (Context::EncryptionUnpatched, &[hint("x", STOP, "stop (nothing patched)"), hint("Esc", ESC, "hide")]),
    (Context::EncryptionFollowing, &[hint("x", STOP, "stop following (it goes on)"), hint("Esc", ESC, "hide")]),
    (Context::EncryptionStopping, &[hint("x", STOP, "stopping ..."), hint("Esc", ESC, "hide")]),
    (Context::EncryptionFinished, &[hint("Enter", ENTER, "choose again"), hint("Esc", ESC, "close")]),
    (
        Context::RestoreChoose,
        &[Hint {
            lead: "choose the recovery host with ",
            ..hint("↑↓", UP_DOWN, "(a healthy control-plane host; its Machine is never deleted)")
        }],
    ),
    (Context::RestoreAnother, &[hint("↑↓", UP_DOWN, "another")]),
    (
        Context::RestoreReady,
        &[hint("Enter", ENTER, "runs it: you will type the cluster's name before anything changes")],
    ),
    (Context::RestoreRunning, &[hint("x", STOP, "stops after the step in flight"), hint("Esc", ESC, "hides")]),
    (
        Context::RestoreName,
        &[edit("Enter", Edit::Keep, "to go on"), edit("Esc", Edit::Drop, "cancels (nothing changed)")],
    ),
    (
        Context::RestoreStep,
        &[edit("Enter", Edit::Keep, "when it is done"), edit("Esc", Edit::Drop, "stops here (resume later)")],
    ),
    (Context::MemberReady, &[hint("Enter", ENTER, "runs it (asks CLUSTER/MEMBER first)"), hint("Esc", ESC, "closes")]),
    (Context::MemberResume, &[hint("Enter", ENTER, "resumes it there"), hint("Esc", ESC, "closes")]),
    (Context::MemberRefused, &[hint("M", &[Action::OpenMember], "plans again"), hint("Esc", ESC, "closes")]),
    (
        Context::MemberRunning,
        &[hint("x", STOP, "stops after the step in flight"), hint("Esc", ESC, "hides (it goes on; M shows it)")],
    ),
    (Context::MemberFinished, &[hint("M", &[Action::OpenMember], "plans again"), hint("Esc", ESC, "closes")]),
    (
        Context::MemberConfirm,
        &[edit("Enter", Edit::Keep, "to go on"), edit("Esc", Edit::Drop, "cancels (nothing changed)")],
    ),
    (
        Context::MemberStep,
        &[edit("Enter", Edit::Keep, "when it is done"), edit("Esc", Edit::Drop, "stops here (resume later)")],
    ),
    (
        Context::Timeline,
        &[
            hint("↑↓", UP_DOWN, "scroll"),
            hint("/", &[Action::FilterCsrs], "filter"),
            hint("T", &[Action::ExportTimeline], "Markdown"),
            hint("Esc", ESC, "close"),
        ],
    ),
    (Context::SpaceReading, &[hint("x", STOP, "stop (what was read stays)"), hint("Esc", ESC, "hide")]),
    (
        Context::SpaceDone,
        &[
            hint("↑↓", UP_DOWN, "resource"),
            hint("r", &[Action::RefreshNow], "read again"),
            hint("b", &[Action::OpenBackup], "count the last backup"),
            hint("Esc", ESC, "close"),
        ],
    ),
];

/// The hints written in a sentence: "x stops after the step in flight   Esc hides".
pub fn said(hints: &[Hint], separator: &str) -> String {
    hints.iter().map(|h| format!("{}{} {}", h.lead, h.label, h.word)).collect::<Vec<_>>().join(separator)
}

/// The hints as an aside: "e: every member".
pub fn aside(hints: &[Hint]) -> String {
    hints.iter().map(|h| format!("{}{}: {}", h.lead, h.label, h.word)).collect::<Vec<_>>().join("; ")
}

/// The hints with one word together, in order: (["y", "Enter"], "do it"), (["n", "Esc"], "cancel").
pub fn grouped(hints: &[Hint]) -> Vec<(Vec<&'static str>, &'static str)> {
    let mut groups: Vec<(Vec<&'static str>, &'static str)> = Vec::new();
    for h in hints {
        match groups.last_mut() {
            Some((labels, word)) if *word == h.word => labels.push(h.label),
            _ => groups.push((vec![h.label], h.word)),
        }
    }
    groups
}

/// The action a key press means, if any.
pub fn action_for(event: KeyEvent) -> Option<Action> {
    // Terminals report '?' and 'G' with SHIFT; the character already says it.
    let modifiers = event.modifiers - KeyModifiers::SHIFT;
    KEY_TABLE.iter().find(|b| b.keys.iter().any(|k| k.code == event.code && k.modifiers == modifiers)).map(|b| b.action)
}

/// The keys a hint's label names, as a terminal reports them (None: a label no key matches).
#[cfg(test)]
pub(crate) fn pressed(label: &str) -> Option<Vec<KeyEvent>> {
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    match label {
        "↑↓" => Some(vec![key(KeyCode::Up), key(KeyCode::Down)]),
        "Enter" => Some(vec![key(KeyCode::Enter)]),
        "Esc" => Some(vec![key(KeyCode::Esc)]),
        _ => {
            let mut chars = label.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(vec![key(KeyCode::Char(c))]),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_key_and_keys_do_not_clash() {
        let mut seen = Vec::new();
        for binding in KEY_TABLE {
            for key in binding.keys {
                assert!(!seen.iter().any(|(c, m)| *c == key.code && *m == key.modifiers), "{:?} bound twice", key.code);
                seen.push((key.code, key.modifiers));
            }
        }
    }

    #[test]
    fn every_context_has_one_entry_and_all_lists_each_once() {
        for (n, context) in Context::ALL.iter().enumerate() {
            assert_eq!(*context as usize, n, "ALL out of order at {context:?}");
            let entries = HINT_TABLE.iter().filter(|(c, _)| c == context).count();
            assert_eq!(entries, 1, "{context:?} has {entries} entries in HINT_TABLE");
            assert!(!context.hints().is_empty(), "{context:?} offers no key");
        }
        assert_eq!(HINT_TABLE.len(), Context::ALL.len());
    }

    /// A hint's label is the key that does what the hint says, and that is KEY_TABLE's (so in
    /// help) or EDIT_KEYS'.
    #[test]
    fn every_hint_names_the_key_that_does_it() {
        for (context, hints) in HINT_TABLE {
            for hint in *hints {
                let Some(keys) = pressed(hint.label) else { panic!("{context:?}: no key is written {:?}", hint.label) };
                match hint.does {
                    Does::Actions(actions) => {
                        let reached: Vec<Option<Action>> = keys.iter().map(|k| action_for(*k)).collect();
                        assert!(!actions.is_empty(), "{context:?} {}: no action", hint.label);
                        for action in actions {
                            assert!(reached.contains(&Some(*action)), "{context:?}: {} is not {action:?}", hint.label);
                            assert!(KEY_TABLE.iter().any(|b| b.action == *action), "{action:?} is not in help");
                        }
                        assert!(
                            reached.iter().all(|a| a.is_some_and(|a| actions.contains(&a))),
                            "{context:?}: {} also does {reached:?}",
                            hint.label
                        );
                    }
                    Does::Edit(edit) => {
                        for key in keys {
                            assert_eq!(edit_for(key), Some(edit), "{context:?}: {} is not {edit:?}", hint.label);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_typed_line_takes_every_character() {
        let plain_chars = EDIT_KEYS.iter().flat_map(|b| b.keys).filter(|k| matches!(k.code, KeyCode::Char(_)));
        assert!(plain_chars.clone().all(|k| k.modifiers == KeyModifiers::CONTROL), "a character would not be typed");
        assert_eq!(edit_for(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        assert_eq!(edit_for(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::NONE)), None, "w is typed");
        assert_eq!(edit_for(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL)), Some(Edit::EraseWord));
        assert_eq!(edit_for(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)), Some(Edit::EraseLine));
        assert_eq!(edit_for(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::CONTROL)), Some(Edit::Start));
        assert_eq!(edit_for(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE)), Some(Edit::Start));
        assert_eq!(edit_for(KeyEvent::new(KeyCode::Enter, KeyModifiers::SHIFT)), Some(Edit::Keep));
    }

    #[test]
    fn edit_keys_do_not_clash() {
        let mut seen: Vec<(KeyCode, KeyModifiers)> = Vec::new();
        for key in EDIT_KEYS.iter().flat_map(|b| b.keys) {
            assert!(!seen.contains(&(key.code, key.modifiers)), "{:?} bound twice", key.code);
            seen.push((key.code, key.modifiers));
        }
    }

    #[test]
    fn alt_and_a_character_is_esc_then_the_character() {
        let alt_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT);
        assert_eq!(esc_then(alt_q), Some(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)));
        let alt_shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::ALT | KeyModifiers::SHIFT);
        assert_eq!(esc_then(alt_shift_g), Some(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)));
        assert_eq!(esc_then(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        assert_eq!(esc_then(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)), None);
    }

    #[test]
    fn every_footer_entry_is_a_bound_key_with_its_words() {
        for (place, actions) in FOOTER_TABLE {
            for action in *actions {
                let binding = KEY_TABLE.iter().find(|b| b.action == *action);
                assert!(binding.is_some_and(|b| b.footer.is_some()), "{place:?}: {action:?} has no footer words");
            }
            assert!(!actions.contains(&Action::ToggleHelp), "{place:?}: ? ends every footer by itself");
        }
        let csr = footer_keys(Place::Csrs);
        assert_eq!(
            &csr[..6],
            &[("q", "quit"), ("Tab", "view"), ("A", "approve"), ("V", "all valid"), ("D", "deny"), ("/", "filter")]
        );
    }

    #[test]
    fn hints_are_written_as_sentences_asides_and_groups() {
        assert_eq!(said(Context::RestoreRunning.hints(), "   "), "x stops after the step in flight   Esc hides");
        assert_eq!(said(Context::Retry.hints(), ""), "press r to try now");
        assert_eq!(aside(Context::DefragNoneNeeded.hints()), "e: every member");
        assert_eq!(grouped(Context::Confirm.hints()), vec![(vec!["y"], "do it"), (vec!["n", "Esc"], "cancel")]);
    }

    #[test]
    fn ctrl_c_and_shifted_question_mark_work() {
        assert_eq!(action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(action_for(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Action::ToggleHelp));
        assert_eq!(action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE)), None);
    }
}
