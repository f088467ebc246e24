//! The DB pane: the selected member's size against in-use and quota, its
//! history over the session, and where its growth leads.

use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use super::Theme;
use crate::app::App;
use etcd_console_core::cluster::{Quota, QuotaSource};
use etcd_console_core::units::{format_age, format_bytes, format_bytes_short};

/// A bar of `width` cells: `filled` of it solid, then `partial` shaded, the rest empty.
fn bar(width: usize, filled: f64, partial: f64) -> (String, String, String) {
    let solid = ((filled.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    let shaded = (((filled + partial).clamp(0.0, 1.0) * width as f64).round() as usize).clamp(solid, width) - solid;
    ("█".repeat(solid), "▒".repeat(shaded), "·".repeat(width - solid - shaded))
}

/// ` 91.0% of 24.0M (pod spec)`, the source marked when assumed. While NOSPACE is raised
/// the quota is reached, whatever the figure says: ` reached (24.0M pod spec)`, no percentage.
fn quota_text(pct: f64, quota: Quota, nospace: bool, theme: Theme) -> Span<'static> {
    let size = format_bytes_short(quota.bytes);
    let (text, style) = if nospace {
        (format!(" reached ({size} {})", quota.source.label()), theme.crit())
    } else if quota.source == QuotaSource::Assumed {
        (format!(" {pct:.1}% of {size} (assumed)"), theme.warn())
    } else {
        (format!(" {pct:.1}% of {size} ({})", quota.source.label()), Style::default())
    };
    Span::styled(text, style)
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    let Some(member) = app.cluster.members.get(app.selected) else {
        frame.render_widget(Block::default().borders(Borders::ALL).title(" DB "), area);
        return;
    };
    let block = Block::default().borders(Borders::ALL).title(format!(" DB {} ", member.identity.display_name()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some((_, status)) = member.last_status() else {
        frame.render_widget(Paragraph::new("no figures yet"), inner);
        return;
    };
    let read = app.cluster.quota_of(member);
    let quota = read.bytes;
    let nospace = app.cluster.nospace();
    let [text_area, chart_area] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(inner);
    let bar_width = (inner.width as usize).saturating_sub(24).max(4);
    let size = status.db_size_bytes as f64;
    let in_use = status.db_size_in_use_bytes as f64;
    let quota_f = quota.max(1) as f64;
    let quota_span = quota_text(status.quota_pct(quota), read, nospace, theme);
    // The quota's bar leaves room for what is said of it; a raised NOSPACE fills it.
    let quota_bar = (inner.width as usize).saturating_sub(7 + quota_span.width()).max(2);
    let (a, b, c) = if nospace {
        (String::new(), "▒".repeat(quota_bar), String::new())
    } else {
        bar(quota_bar, in_use / quota_f, (size - in_use) / quota_f)
    };
    let (d, e, f) = bar(
        bar_width,
        if size > 0.0 { in_use / size } else { 0.0 },
        if size > 0.0 { 1.0 - in_use / size } else { 0.0 },
    );
    let growth = match (member.history.growth_bytes_per_sec(), member.history.time_to_quota(quota)) {
        // The figures are no comfort while etcd refuses writes.
        _ if nospace => Span::styled("NOSPACE raised: the quota is reached", theme.crit()),
        (Some(rate), Some(eta)) => {
            Span::raw(format!("grows {}/h: quota in {}", format_bytes((rate * 3600.0) as u64), format_age(eta)))
        }
        (Some(rate), None) if rate <= 0.0 => Span::styled("not growing", theme.ok()),
        _ => Span::styled(format!("growth: {} of history yet", format_age(member.history.span())), theme.dim()),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled("▒", theme.size()),
            Span::raw(format!(" size {}  ", format_bytes_short(status.db_size_bytes))),
            Span::styled("█", theme.in_use()),
            Span::raw(format!(" in use {}", format_bytes_short(status.db_size_in_use_bytes))),
            Span::raw(format!("  free {}", format_bytes_short(status.free_bytes()))),
        ]),
        Line::from(vec![
            Span::raw("quota  "),
            Span::styled(a, theme.in_use()),
            Span::styled(b, if nospace { theme.crit() } else { theme.size() }),
            Span::styled(c, theme.dim()),
            quota_span,
        ]),
        Line::from(vec![
            Span::raw("in use "),
            Span::styled(d, theme.in_use()),
            Span::styled(e, theme.size()),
            Span::styled(f, theme.dim()),
            Span::raw(format!(" {:.0}% of size", 100.0 - status.fragmentation_pct())),
        ]),
        Line::from(growth),
    ];
    frame.render_widget(Paragraph::new(lines), text_area);
    if chart_area.height < 4 {
        return;
    }
    let origin = app.started;
    let size_points: Vec<(f64, f64)> = member
        .history
        .points()
        .map(|p| (p.at.saturating_duration_since(origin).as_secs_f64(), p.db_size_bytes as f64))
        .collect();
    let in_use_points: Vec<(f64, f64)> = member
        .history
        .points()
        .map(|p| (p.at.saturating_duration_since(origin).as_secs_f64(), p.db_size_in_use_bytes as f64))
        .collect();
    let x_max = now.saturating_duration_since(origin).as_secs_f64().max(10.0);
    let x_min = size_points.first().map(|p| p.0).unwrap_or(0.0).min(x_max - 10.0);
    let y_max = size_points.iter().map(|p| p.1).fold(1024.0, f64::max) * 1.25;
    let datasets = vec![
        Dataset::default()
            .name("size")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.size())
            .data(&size_points),
        Dataset::default()
            .name("in use")
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(theme.in_use())
            .data(&in_use_points),
    ];
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([x_min, x_max])
                .labels([
                    Span::raw(format!("-{}", format_age(std::time::Duration::from_secs_f64(x_max - x_min)))),
                    Span::raw("now"),
                ])
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .labels([Span::raw("0"), Span::raw(format_bytes_short(y_max as u64))])
                .style(theme.dim()),
        )
        .legend_position(None)
        .block(Block::default().title(Line::styled("history: ⠶ size  • in use", theme.dim())));
    frame.render_widget(chart, chart_area);
}
