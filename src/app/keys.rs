//! The key table: the one list that maps keys to actions and feeds both the
//! help screen and the footer, so they never drift from what the keys do.

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
    AbortDefrag,
    OpenBackup,
    ForceBackup,
    OpenEncryption,
    OpenRestore,
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
        footer: None,
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
        description: "start the wizard shown; yes to a confirmation (not the encryption patch's)",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Up), plain(KeyCode::Char('k'))],
        label: "↑/k",
        action: Action::SelectPrevious,
        description: "select the member (CSR view: the CSR) above",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Down), plain(KeyCode::Char('j'))],
        label: "↓/j",
        action: Action::SelectNext,
        description: "select the member (CSR view: the CSR) below",
        footer: Some(("↑↓", "select")),
    },
    Binding {
        keys: &[plain(KeyCode::Home), plain(KeyCode::Char('g'))],
        label: "Home/g",
        action: Action::SelectFirst,
        description: "select the first member",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::End), plain(KeyCode::Char('G'))],
        label: "End/G",
        action: Action::SelectLast,
        description: "select the last member",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Tab)],
        label: "Tab",
        action: Action::NextView,
        description: "lower half: member/DB → OpenShift → CSRs",
        footer: Some(("Tab", "view")),
    },
    Binding {
        keys: &[plain(KeyCode::Char('A'))],
        label: "A",
        action: Action::ApproveCsr,
        description: "CSR view: approve the selected CSR (asks first)",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('V'))],
        label: "V",
        action: Action::ApproveAllValid,
        description: "CSR view: approve every valid CSR shown (asks)",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('D'))],
        label: "D",
        action: Action::DenyCsr,
        description: "CSR view: deny the selected CSR (asks first)",
        footer: None,
    },
    Binding {
        keys: &[plain(KeyCode::Char('/'))],
        label: "/",
        action: Action::FilterCsrs,
        description: "CSR view: filter (Enter keeps, Esc clears)",
        footer: None,
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
        action: Action::AbortDefrag,
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

/// The action a key press means, if any.
pub fn action_for(event: KeyEvent) -> Option<Action> {
    // Terminals report '?' and 'G' with SHIFT; the character already says it.
    let modifiers = event.modifiers - KeyModifiers::SHIFT;
    KEY_TABLE.iter().find(|b| b.keys.iter().any(|k| k.code == event.code && k.modifiers == modifiers)).map(|b| b.action)
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
    fn ctrl_c_and_shifted_question_mark_work() {
        assert_eq!(action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(action_for(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Action::ToggleHelp));
        assert_eq!(action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE)), None);
    }
}
