//! Colours, or none under NO_COLOR: then emphasis and the selection are carried
//! by bold/reversed and a marker, so nothing depends on colour alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// NO_COLOR set to anything non-empty turns colour off (no-color.org).
    pub fn from_env() -> Self {
        Self { color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }
    pub fn info(self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn crit(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn dim(self) -> Style {
        self.fg(Color::Indexed(245))
    }
    pub fn title(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    /// The selected row: a background band in colour (cell colours stay
    /// readable on it), reversed video without.
    pub fn selected(self) -> Style {
        if self.color {
            Style::default().bg(Color::Indexed(238))
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
    /// Key caps in the footer.
    pub fn key(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn size(self) -> Style {
        self.fg(Color::LightBlue)
    }
    pub fn in_use(self) -> Style {
        self.fg(Color::Magenta)
    }
}
