//! The alerts overlay: every alert with its message, most severe first (the
//! badges only have room for names).

use etcd_console_core::units::safe_text;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::Theme;
use crate::app::keys::{grouped, Context};
use etcd_console_core::cluster::alerts::{Alert, Severity};

pub fn draw(frame: &mut Frame, area: Rect, alerts: &[Alert], theme: Theme) {
    let mut lines: Vec<Line> = Vec::new();
    if alerts.is_empty() {
        lines.push(Line::styled(" ✓ no alerts", theme.ok()));
    }
    for alert in alerts {
        let style = match alert.severity {
            Severity::Critical => theme.crit(),
            Severity::Warning => theme.warn(),
            Severity::Info => theme.info(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {} ", alert.severity.label()), style),
            Span::styled(alert.name, theme.title()),
        ]));
        lines.push(Line::raw(format!("      {}", safe_text(&alert.message))));
    }
    let width = area.width.saturating_sub(4).min(100);
    let close: Vec<String> = grouped(Context::Alerts.hints())
        .into_iter()
        .map(|(labels, word)| format!("{} {word}", labels.join(" or ")))
        .collect();
    let title = format!(" Alerts ({}) — {} ", alerts.len(), close.join("; "));
    let paragraph =
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)).wrap(Wrap { trim: false });
    super::popup(frame, area, width, paragraph);
}
