//! The help overlay, generated from the key table: as tall as the terminal less a margin, at
//! most 100 columns wide, its descriptions wrapped at word boundaries under their column, and
//! scrolled by the App's `help_scroll` when it is longer than the screen.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::Theme;
use crate::app::keys::{EDIT_KEYS, KEY_TABLE};

/// The widest the overlay gets.
const MAX_WIDTH: u16 = 100;
/// The key label column: a space, the label, padding.
const LABEL_COLUMNS: usize = 9;

/// One row of the help: a key label (blank on a continuation) and its words, or a note.
enum Row {
    Key { label: &'static str, words: String },
    Heading(&'static str),
    Note(String),
    Blank,
}

/// The overlay's place on a screen of this area.
fn window(area: Rect) -> Rect {
    let width = area.width.min(MAX_WIDTH);
    let height = area.height.saturating_sub(2).max(area.height.min(3));
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}

/// `text` cut into lines of at most `width` characters at spaces (a word longer than a whole
/// line, and only such a word, is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        let used = line.chars().count();
        if used > 0 && used + 1 + word.len() <= width {
            line.push(' ');
            line.extend(&word);
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > width {
            lines.push(word.drain(..width).collect());
        }
        line.extend(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Every row of the help for an overlay whose inside is `inner_width` columns wide.
fn rows(inner_width: usize) -> Vec<Row> {
    let words_width = inner_width.saturating_sub(LABEL_COLUMNS + 1);
    let mut rows = Vec::new();
    let keys = |label: &'static str, description: &str, rows: &mut Vec<Row>| {
        for (n, words) in wrap(description, words_width).into_iter().enumerate() {
            rows.push(Row::Key { label: if n == 0 { label } else { "" }, words });
        }
    };
    for binding in KEY_TABLE {
        keys(binding.label, binding.description, &mut rows);
    }
    rows.push(Row::Blank);
    rows.push(Row::Heading("While typing a filter or a prompt:"));
    for binding in EDIT_KEYS {
        keys(binding.label, binding.description, &mut rows);
    }
    rows.push(Row::Blank);
    let note = "Figures show how old they are; a silent member shows how long it has not answered.";
    rows.extend(wrap(note, inner_width.saturating_sub(2)).into_iter().map(Row::Note));
    rows
}

/// The help on a screen of `columns` x `rows`: the rows a page shows, and the first row shown
/// when scrolled to its end.
pub fn pages(columns: u16, rows_on_screen: u16) -> (usize, usize) {
    let window = window(Rect::new(0, 0, columns, rows_on_screen));
    let page = usize::from(window.height.saturating_sub(2));
    let total = rows(usize::from(window.width.saturating_sub(2))).len();
    (page, total.saturating_sub(page))
}

pub fn draw(frame: &mut Frame, area: Rect, theme: Theme, scroll: usize) {
    let popup = window(area);
    let inner_width = usize::from(popup.width.saturating_sub(2));
    let page = usize::from(popup.height.saturating_sub(2));
    let rows = rows(inner_width);
    let top = scroll.min(rows.len().saturating_sub(page));
    let lines: Vec<Line> = rows
        .iter()
        .skip(top)
        .take(page)
        .map(|row| match row {
            Row::Key { label, words } => Line::from(vec![
                Span::styled(format!(" {label:<width$}", width = LABEL_COLUMNS - 1), theme.title()),
                Span::raw(words.clone()),
            ]),
            Row::Heading(text) => Line::styled(format!(" {text}"), theme.title()),
            Row::Note(text) => Line::styled(format!(" {text}"), theme.dim()),
            Row::Blank => Line::raw(""),
        })
        .collect();
    let mut block = Block::default().borders(Borders::ALL).title(" Help: keys ");
    if rows.len() > page {
        let last = (top + page).min(rows.len());
        let place = format!(" {}–{last} of {} · ↑↓ PgUp PgDn Home End ", top + 1, rows.len());
        block = block.title_bottom(Line::from(place).alignment(Alignment::Right));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_whole_and_only_a_word_longer_than_a_line_is_cut() {
        assert_eq!(
            wrap("defrag wizard: plan, leader last; Enter starts", 20),
            ["defrag wizard: plan,", "leader last; Enter", "starts"]
        );
        assert_eq!(wrap("__POSSIBLY_DIRTY__ x", 10), ["__POSSIBLY", "_DIRTY__ x"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn the_help_at_80x24_takes_pages_and_its_end_is_reachable() {
        let (page, last_top) = pages(80, 24);
        assert_eq!(page, 20, "24 rows less a margin and the borders");
        assert!(last_top > 0, "at 80x24 the help is longer than a page");
        let (_, wide_last_top) = pages(200, 60);
        assert_eq!(wide_last_top, 0, "on a large screen it fits whole");
    }
}
