//! The incident timeline pane (`t`): every event newest first, scrolled and filtered; it
//! covers the members and the lower half while shown.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::Theme;
use crate::app::keys::{said, Context};
use crate::app::App;
use etcd_console_core::cluster::Severity;
use etcd_console_core::timeline::Event;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let rows = app.timeline_rows();
    let view = &app.timeline_view;
    let mut lines: Vec<Line> = Vec::new();
    if view.editing_filter || !view.filter.is_empty() {
        let count = format!("  {} of {} events", rows.len(), app.timeline.len());
        let mut spans = vec![Span::styled(" filter: ", theme.dim())];
        if view.editing_filter {
            // The filter being typed, with its cursor, in what the line leaves it.
            let room = usize::from(area.width).saturating_sub(count.chars().count() + 12);
            spans.extend(view.filter_input.spans(ratatui::style::Style::default(), room));
        } else {
            spans.push(Span::raw(etcd_console_core::units::safe_text(&view.filter)));
        }
        spans.push(Span::styled(count, theme.dim()));
        lines.push(Line::from(spans));
    }
    if rows.is_empty() {
        lines.push(Line::styled(
            if app.timeline.is_empty() {
                " nothing yet: changes appear here as they are seen"
            } else {
                " no event matches"
            },
            theme.dim(),
        ));
    }
    lines.extend(rows.iter().skip(view.scroll).take(area.height as usize).map(|e| row(e, theme)));
    let title = format!(" Timeline, newest first — {} ", said(Context::Timeline.hints(), " · "));
    let mut position = format!(" {} event(s) ", rows.len());
    if view.scroll > 0 {
        position = format!(" {} newer above · {} event(s) ", view.scroll, rows.len());
    }
    if app.timeline.dropped > 0 {
        position.push_str(&format!("· {} oldest let go ", app.timeline.dropped));
    }
    let block = Block::default().borders(Borders::ALL).title(title).title_bottom(Line::from(position).right_aligned());
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn row(event: &Event, theme: Theme) -> Line<'static> {
    let style = match event.kind.severity() {
        Some(Severity::Critical) => theme.crit(),
        Some(Severity::Warning) => theme.warn(),
        Some(Severity::Info) => theme.info(),
        None => ratatui::style::Style::default(),
    };
    let time = event.time_text();
    let clock = time.get(11..19).unwrap_or(&time).to_string();
    Line::from(vec![
        Span::styled(format!(" {clock} "), theme.dim()),
        Span::styled(format!("{:<10}", event.source.as_str()), theme.dim()),
        Span::styled(event.message.clone(), style),
    ])
}
