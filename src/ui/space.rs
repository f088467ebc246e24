//! The space view on the lower half: what fills etcd, ranked, with where the
//! figures come from and what they cost, what grew since the last reading, and
//! the selected resource's namespaces.

use std::time::Duration;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::{keys_line, Theme};
use crate::app::keys::Context;
use crate::app::space::{SpaceView, Stage};
use crate::app::App;
use etcd_console_core::space::{percent_text, resource_label, Group, Reading, Source};
use etcd_console_core::units::{format_age, format_bytes, safe_text};

/// From this width the prefixes are shown beside the resources.
const WIDE: u16 = 120;

pub fn draw(frame: &mut Frame, area: Rect, _app: &App, view: &SpaceView, theme: Theme) {
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title(view), theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [body, keys] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let context = if view.stage == Stage::Reading { Context::SpaceReading } else { Context::SpaceDone };
    frame.render_widget(Paragraph::new(keys_line(context, theme)), keys);
    let Some(reading) = &view.reading else {
        let lines = match (&view.failed, view.from_backup) {
            (Some(why), _) => vec![
                Line::styled(format!("no reading: {}", safe_text(why)), theme.crit()),
                Line::styled("nothing was changed", theme.dim()),
            ],
            (None, true) => vec![Line::raw("counting every record of the newest verified backup ...")],
            (None, false) => vec![
                Line::raw("finding a healthy follower and counting every key ..."),
                Line::styled("serializable range requests on one follower; nothing is changed", theme.dim()),
            ],
        };
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        return;
    };
    let mut head = summary(reading, theme, body.width < WIDE);
    if let Some(why) = &view.failed {
        head.push(Line::styled(format!("the new reading failed: {}", safe_text(why)), theme.crit()));
    }
    // Wrapped, never cut; the table keeps at least its header and two rows.
    let head = Paragraph::new(head).wrap(Wrap { trim: false });
    let head_height = u16::try_from(head.line_count(body.width)).unwrap_or(u16::MAX);
    let detail = reading
        .resources
        .get(view.selected)
        .map(|group| Paragraph::new(namespaces_line(group, reading, theme)).wrap(Wrap { trim: false }));
    let detail_height = detail.as_ref().map_or(0, |d| u16::try_from(d.line_count(body.width)).unwrap_or(1).min(2));
    let head_height = head_height.min(body.height.saturating_sub(3 + detail_height));
    let [head_area, table_area, detail_area] =
        Layout::vertical([Constraint::Length(head_height), Constraint::Min(2), Constraint::Length(detail_height)])
            .areas(body);
    frame.render_widget(head, head_area);
    draw_table(frame, table_area, reading, view.selected, theme);
    if let Some(detail) = detail {
        frame.render_widget(detail, detail_area);
    }
}

fn title(view: &SpaceView) -> String {
    let Some(reading) = &view.reading else {
        return " What fills etcd ".into();
    };
    let from = match &reading.source {
        Source::Member { member, leader, .. } => {
            format!("live, {}{}", safe_text(member), if *leader { " (the leader: no healthy follower)" } else { "" })
        }
        Source::Snapshot { taken_at, .. } => {
            format!("backup of {}", taken_at.as_deref().unwrap_or("?"))
        }
    };
    let when = reading.taken_at.get(11..19).unwrap_or(&reading.taken_at);
    match view.stage {
        Stage::Reading if !view.from_backup && reading.requests > 0 && reading.resources.is_empty() => {
            format!(" What fills etcd: {from}, reading ... ")
        }
        Stage::Reading => format!(" What fills etcd: {from}, reading ({} requests) ... ", reading.requests),
        _ => format!(" What fills etcd: {from}, revision {} at {when} ", reading.revision),
    }
}

/// Where the figures come from, what they cost, and what grew.
fn summary(reading: &Reading, theme: Theme, narrow: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    match &reading.source {
        Source::Member { db_size, db_size_in_use, .. } if narrow => {
            lines.push(Line::from(vec![
                Span::raw(format!("{} keys, ", reading.total_keys)),
                Span::styled(format!("~{} live", format_bytes(reading.bytes)), theme.size()),
                Span::raw(format!(" · DB {}, {} in use", format_bytes(*db_size), format_bytes(*db_size_in_use))),
                Span::styled(
                    format!(" · {} requests in {:.1}s · bytes sampled", reading.requests, reading.duration_seconds),
                    theme.dim(),
                ),
            ]));
        }
        Source::Member { db_size, db_size_in_use, .. } => {
            lines.push(Line::from(vec![
                Span::raw(format!("{} keys, ", reading.total_keys)),
                Span::styled(format!("~{} live", format_bytes(reading.bytes)), theme.size()),
                Span::styled(format!(" (estimated from {} objects)", reading.sampled), theme.dim()),
                Span::raw(format!(" · DB {} ({} in use)", format_bytes(*db_size), format_bytes(*db_size_in_use))),
            ]));
            lines.push(Line::styled(
                format!(
                    "{} serializable requests in {:.1} s, {} of values read",
                    reading.requests,
                    reading.duration_seconds,
                    format_bytes(reading.sampled_bytes)
                ),
                theme.dim(),
            ));
        }
        Source::Snapshot { .. } => {
            lines.push(Line::from(vec![
                Span::raw(format!("{} keys, ", reading.total_keys)),
                Span::styled(format!("{} live", format_bytes(reading.bytes)), theme.size()),
                Span::raw(format!(
                    ", {} in old revisions not yet compacted",
                    format_bytes(reading.history_bytes.unwrap_or(0))
                )),
            ]));
            if !narrow {
                lines.push(Line::styled("every record of the backup counted: nothing estimated", theme.dim()));
            }
        }
    }
    if let Some(previous) = &reading.previous {
        let growth = reading.growth(3, false);
        let ago = format_age(Duration::from_secs(previous.since_seconds));
        lines.push(if growth.is_empty() {
            Line::styled(format!("since the reading {ago} ago: no resource gained keys"), theme.ok())
        } else {
            Line::styled(format!("in {ago}: {}", growth.join(" · ")), theme.warn())
        });
    }
    if let Some(why) = &reading.partial {
        lines.push(Line::styled(format!("partial: {}", safe_text(why)), theme.warn()));
    }
    lines
}

fn draw_table(frame: &mut Frame, area: Rect, reading: &Reading, selected: usize, theme: Theme) {
    let width = area.width as usize;
    let wide = area.width >= WIDE;
    let bytes_head = if reading.estimated { "~BYTES" } else { "BYTES" };
    // rank 3, keys 9, bytes 10, share 6, change 7, and the spaces between.
    let name_width = width.saturating_sub(3 + 9 + 10 + 6 + 7 + 6).max(8);
    let mut lines = vec![Line::styled(
        format!(
            "{:>3} {:<name_width$} {:>9} {:>10} {:>6} {:>7}",
            "#", "RESOURCE", "KEYS", bytes_head, "SHARE", "KEYS ±"
        ),
        theme.dim(),
    )];
    let rows = (area.height as usize).saturating_sub(1).max(1);
    let first = selected.saturating_sub(rows - 1);
    let whole = reading.bytes.max(1) as f64;
    for (rank, group) in reading.resources.iter().enumerate().skip(first).take(rows) {
        let mut name = resource_label(&group.resource);
        if wide && !group.prefix.is_empty() {
            name = format!("{name}  {}", safe_text(&group.prefix));
        }
        let change = match &group.change {
            Some(c) => c.keys_percent.map_or_else(|| "new".to_string(), |p| percent_text(p).replace(' ', "")),
            None => String::new(),
        };
        let text = format!(
            "{:>3} {:<name_width$} {:>9} {:>10} {:>5.1}% {:>7}",
            rank + 1,
            cut(&name, name_width),
            group.keys,
            format_bytes(group.bytes),
            group.bytes as f64 * 100.0 / whole,
            change
        );
        let style = if rank == selected { theme.selected() } else { ratatui::style::Style::default() };
        let growing = group.change.as_ref().and_then(|c| c.keys_percent).is_some_and(|p| p >= 10.0);
        let style = if growing { style.patch(theme.warn()) } else { style };
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The selected resource's namespaces, the most bytes first, or why they are not listed.
fn namespaces_line(group: &Group, reading: &Reading, theme: Theme) -> Line<'static> {
    let name = resource_label(&group.resource);
    if group.namespaces.is_empty() {
        let why = if group.prefix.starts_with("/kubernetes.io/") || group.prefix.starts_with("/openshift.io/") {
            if group.sampled >= group.keys {
                "cluster-scoped"
            } else {
                "namespaces not walked: only the largest resources are"
            }
        } else {
            "outside Kubernetes"
        };
        return Line::styled(format!("{name}: {why}"), theme.dim());
    }
    let approx = if reading.estimated && group.sampled < group.keys { "~" } else { "" };
    let mut parts: Vec<String> = group
        .namespaces
        .iter()
        .take(6)
        .map(|n| {
            let ns = if n.namespace.is_empty() { "(cluster-scoped)".into() } else { safe_text(&n.namespace) };
            format!("{ns} {} keys {approx}{}", n.keys, format_bytes(n.bytes))
        })
        .collect();
    if group.namespaces.len() > 6 {
        parts.push(format!("{} more", group.namespaces.len() - 6));
    }
    if let Some(rest) = group.other_namespaces_keys {
        parts.push(format!("{rest} keys in further namespaces"));
    }
    Line::from(vec![Span::styled(format!("{name}: "), theme.title()), Span::raw(parts.join(" · "))])
}

/// `text` in at most `width` characters, cut with an ellipsis.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}
