//! A line being typed (the CSR filter, the restore's and the member replacement's prompts):
//! one line of text with a cursor, edited by the keys of `EDIT_KEYS`. The text is kept by
//! tui-textarea; this says what a key and a paste do to it and never lets a line break or a
//! control character in, so what the engines get is what is shown.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use etcd_console_core::units::{is_unsafe_char, safe_text};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use tui_textarea::{CursorMove, TextArea};

use super::keys::{self, Edit};

/// What a key did to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    /// Enter: keep the line (answer the prompt with it).
    Keep,
    /// Esc: drop it (clear the filter, answer the prompt with nothing).
    Drop,
    /// The line or its cursor changed, or the key meant nothing here.
    Edited,
}

#[derive(Debug, Clone)]
pub struct Input {
    area: TextArea<'static>,
}

impl Default for Input {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for Input {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text() && self.cursor() == other.cursor()
    }
}

impl Input {
    pub fn new() -> Input {
        Input { area: TextArea::default() }
    }

    /// The line as typed, exactly.
    pub fn text(&self) -> &str {
        self.area.lines().first().map_or("", String::as_str)
    }

    /// Where the cursor is, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.area.cursor().1
    }

    pub fn is_empty(&self) -> bool {
        self.text().is_empty()
    }

    pub fn clear(&mut self) {
        self.area = TextArea::default();
    }

    /// A key, by `EDIT_KEYS`; a character without Ctrl or Alt is typed at the cursor.
    pub fn key(&mut self, key: KeyEvent) -> Typed {
        match keys::edit_for(key) {
            Some(Edit::Keep) => return Typed::Keep,
            Some(Edit::Drop) => return Typed::Drop,
            Some(Edit::Erase) => {
                self.area.delete_char();
            }
            Some(Edit::EraseNext) => {
                self.area.delete_next_char();
            }
            Some(Edit::EraseWord) => {
                self.area.delete_word();
            }
            Some(Edit::EraseLine) => self.clear(),
            Some(Edit::Left) => self.area.move_cursor(CursorMove::Back),
            Some(Edit::Right) => self.area.move_cursor(CursorMove::Forward),
            Some(Edit::Start) => self.area.move_cursor(CursorMove::Head),
            Some(Edit::End) => self.area.move_cursor(CursorMove::End),
            None => match key.code {
                KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
                    self.insert(&c.to_string());
                }
                _ => {}
            },
        }
        Typed::Edited
    }

    /// Pasted text, at the cursor: up to its first line break, without control characters
    /// (an escape sequence in it is never read as keys).
    pub fn paste(&mut self, text: &str) {
        let first = text.split(['\n', '\r']).next().unwrap_or("");
        self.insert(first);
    }

    fn insert(&mut self, text: &str) {
        let kept: String = text.chars().filter(|c| !is_unsafe_char(*c)).collect();
        if !kept.is_empty() {
            self.area.insert_str(kept);
        }
    }

    /// The line as drawn in `width` cells with its cursor (a reversed cell, at the end a blank
    /// one); a line longer than that shows the part around the cursor.
    pub fn spans(&self, style: Style, width: usize) -> Vec<Span<'static>> {
        let chars: Vec<char> = self.text().chars().collect();
        let at = self.cursor().min(chars.len());
        let width = width.max(2);
        // Keep the cursor in view: the window ends at the cursor when the line is longer.
        let first = (at + 1).saturating_sub(width);
        let last = (first + width).min(chars.len() + 1);
        let before: String = chars[first..at].iter().collect();
        let under = chars.get(at).map_or(" ".to_string(), |c| c.to_string());
        let after: String = chars.get(at + 1..last.max(at + 1)).map(|s| s.iter().collect()).unwrap_or_default();
        vec![
            Span::styled(safe_text(&before), style),
            Span::styled(safe_text(&under), style.add_modifier(Modifier::REVERSED)),
            Span::styled(safe_text(&after), style),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(input: &mut Input, code: KeyCode) -> Typed {
        input.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ctrl(input: &mut Input, c: char) -> Typed {
        input.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn typed(text: &str) -> Input {
        let mut input = Input::new();
        for c in text.chars() {
            press(&mut input, KeyCode::Char(c));
        }
        input
    }

    fn shown(input: &Input, width: usize) -> String {
        input.spans(Style::default(), width).iter().map(|s| s.content.to_string()).collect()
    }

    #[test]
    fn characters_are_typed_at_the_cursor_and_the_cursor_moves() {
        let mut input = typed("csr-abc");
        assert_eq!(input.text(), "csr-abc");
        assert_eq!(input.cursor(), 7);
        press(&mut input, KeyCode::Left);
        press(&mut input, KeyCode::Left);
        press(&mut input, KeyCode::Char('X'));
        assert_eq!(input.text(), "csr-aXbc");
        press(&mut input, KeyCode::Home);
        press(&mut input, KeyCode::Char('>'));
        assert_eq!(input.text(), ">csr-aXbc");
        ctrl(&mut input, 'e');
        press(&mut input, KeyCode::Char('!'));
        assert_eq!(input.text(), ">csr-aXbc!");
        ctrl(&mut input, 'a');
        press(&mut input, KeyCode::Delete);
        assert_eq!(input.text(), "csr-aXbc!");
        press(&mut input, KeyCode::End);
        press(&mut input, KeyCode::Backspace);
        assert_eq!(input.text(), "csr-aXbc");
        press(&mut input, KeyCode::Right);
        assert_eq!(input.cursor(), 8, "the cursor stops at the end");
        // Keys with Ctrl or Alt that edit nothing type nothing either.
        ctrl(&mut input, 'x');
        input.key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT));
        assert_eq!(input.text(), "csr-aXbc");
    }

    #[test]
    fn ctrl_w_deletes_the_word_before_the_cursor_and_ctrl_u_the_line() {
        let mut input = typed("worker-1 node-bootstrapper");
        ctrl(&mut input, 'w');
        assert_eq!(input.text(), "worker-1 node-");
        ctrl(&mut input, 'w');
        ctrl(&mut input, 'w');
        assert_eq!(input.text(), "worker-1 ");
        ctrl(&mut input, 'w');
        assert_eq!(input.text(), "worker-");
        ctrl(&mut input, 'u');
        assert_eq!(input.text(), "");
        assert_eq!(input.cursor(), 0);
        let mut input = typed("abc def");
        press(&mut input, KeyCode::Home);
        ctrl(&mut input, 'u');
        assert!(input.is_empty(), "Ctrl-U deletes the whole line wherever the cursor is");
    }

    #[test]
    fn enter_keeps_and_esc_drops_without_changing_the_text() {
        let mut input = typed("lab-x8k2p");
        assert_eq!(press(&mut input, KeyCode::Enter), Typed::Keep);
        assert_eq!(press(&mut input, KeyCode::Esc), Typed::Drop);
        assert_eq!(input.text(), "lab-x8k2p");
    }

    #[test]
    fn a_paste_stops_at_its_first_line_break_and_drops_control_characters() {
        let mut input = typed("> ");
        input.paste("lab-\u{1b}[31mx8k2p\nq\r\ny");
        assert_eq!(input.text(), "> lab-[31mx8k2p", "no escape, nothing after the line break");
        assert_eq!(input.cursor(), 15);
        input.paste("\r\nanything");
        assert_eq!(input.text(), "> lab-[31mx8k2p", "a paste that starts with a line break adds nothing");
        let mut input = typed("ab");
        press(&mut input, KeyCode::Left);
        input.paste("\tZ\u{7}");
        assert_eq!(input.text(), "aZb", "pasted at the cursor");
    }

    #[test]
    fn the_cursor_is_drawn_and_a_long_line_shows_the_part_around_it() {
        let mut input = typed("abc");
        assert_eq!(shown(&input, 20), "abc ");
        let spans = input.spans(Style::default(), 20);
        assert!(spans[1].style.add_modifier.contains(Modifier::REVERSED), "the cursor cell is reversed");
        press(&mut input, KeyCode::Home);
        assert_eq!(input.spans(Style::default(), 20)[1].content, "a");
        let long = typed("0123456789abcdef");
        assert_eq!(shown(&long, 8), "9abcdef ", "the end, with the cursor after it");
        assert!(shown(&long, 8).chars().count() <= 8);
    }
}
