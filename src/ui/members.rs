//! The members pane: one row per member, and the selected member in detail.

use std::time::Instant;

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::Theme;
use crate::app::App;
use etcd_console_core::cluster::{report::hex, MemberState, Severity};
use etcd_console_core::units::{format_age, format_bytes, format_bytes_short, safe_text};

/// Terminals at least this wide get the ID, free and raft columns too.
const WIDE: u16 = 124;

/// The health cell: latency, a learner's progress, or why and for how long the member is
/// silent (`compact` for the table's narrow column). How long: since the cluster's objects
/// say it went down (its pod, its node) when the API says, else since this console saw it.
pub fn health_text(app: &App, member: &MemberState, theme: Theme, now: Instant, compact: bool) -> (String, Style) {
    let word = if compact { "" } else { "for " };
    if member.is_up() {
        let alarmed = member.current_status().is_some_and(|s| !s.alarms.is_empty());
        if member.is_learner() && member.read_refused_as_learner() && !alarmed {
            let text = match app.cluster.learner_progress(member) {
                Some(p) if compact => p.short(),
                Some(p) => format!("{}: applied {} of {}", p.short(), p.applied_index, p.leader_index),
                None => "learner".into(),
            };
            let stuck = app.cluster.learner_stuck(member, now).is_some();
            return (text, if stuck { theme.warn() } else { theme.info() });
        }
        return match &member.health {
            Some(Ok(latency)) if alarmed => (format!("alarm {:.1}ms", latency.as_secs_f64() * 1000.0), theme.crit()),
            Some(Ok(latency)) => (format!("ok {:.1}ms", latency.as_secs_f64() * 1000.0), theme.ok()),
            Some(Err(_)) => ("no reads".into(), theme.crit()),
            None => ("?".into(), theme.dim()),
        };
    }
    if member.not_heard_yet() {
        return ("asking…".into(), theme.dim());
    }
    // Not up and heard from: the latest round failed, so there is an error and a time it began.
    let wall = app.wall_clock.unwrap_or_else(std::time::SystemTime::now);
    let down_since = app.openshift.surroundings().diagnose(&member.identity).and_then(|d| d.down_since_time());
    let silence = match down_since {
        Some(since) => format_age(wall.duration_since(since).unwrap_or_default()),
        None => member.silent_for(now).map(format_age).unwrap_or_default(),
    };
    let hung = member.error.as_deref().is_some_and(|e| e.contains("no answer"));
    (format!("{} {word}{silence}", if hung { "no answer" } else { "down" }), theme.crit())
}

pub fn draw_table(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    let wide = area.width >= WIDE;
    let leader = app.cluster.leader_id();
    let alarms = app.cluster.alarms();
    let mut header = vec!["NAME"];
    let mut widths = vec![Constraint::Length(10)];
    if wide {
        header.push("ID");
        widths.push(Constraint::Length(16));
    }
    header.extend(["ROLE", "HEALTH", "DB", "IN USE"]);
    widths.extend([Constraint::Length(7), Constraint::Length(13), Constraint::Length(6), Constraint::Length(6)]);
    if wide {
        header.push("FREE");
        widths.push(Constraint::Length(6));
    }
    header.extend(["FRAG%", "QUOTA%", "ALARMS"]);
    widths.extend([Constraint::Length(5), Constraint::Length(6), Constraint::Length(7)]);
    if wide {
        header.extend(["TERM", "INDEX", "LAG"]);
        widths.extend([Constraint::Length(5), Constraint::Length(9), Constraint::Length(4)]);
    }
    header.push("AGE");
    widths.push(Constraint::Length(5));

    let nospace = app.cluster.nospace();
    let rows: Vec<Row> = app
        .cluster
        .members
        .iter()
        .map(|m| {
            let last = m.last_status();
            let figure_style = if m.is_up() { Style::default() } else { theme.dim() };
            let figure = |f: &dyn Fn(&etcd_console_core::cluster::StatusSample) -> String| {
                Cell::from(last.map(|(_, s)| f(s)).unwrap_or_else(|| "-".into())).style(figure_style)
            };
            let role = if leader == Some(m.identity.id) {
                Cell::from("leader").style(theme.ok())
            } else if m.is_learner() {
                Cell::from("learner")
            } else {
                Cell::from("")
            };
            let (health, health_style) = health_text(app, m, theme, now, true);
            let own = m.own_alarms(&alarms);
            let mut cells = vec![Cell::from(m.identity.display_name())];
            if wide {
                cells.push(Cell::from(hex(m.identity.id)));
            }
            cells.extend([
                role,
                Cell::from(health).style(health_style),
                figure(&|s| format_bytes_short(s.db_size_bytes)),
                figure(&|s| format_bytes_short(s.db_size_in_use_bytes)),
            ]);
            if wide {
                cells.push(figure(&|s| format_bytes_short(s.free_bytes())));
            }
            let quota_pct = last.map(|(_, s)| s.quota_pct(app.cluster.quota_of(m).bytes)).unwrap_or(0.0);
            let quota_style = match Severity::for_quota_pct(quota_pct) {
                // NOSPACE raised: the quota is reached, whatever the figure says.
                _ if nospace => theme.crit(),
                Some(Severity::Critical) => theme.crit(),
                Some(Severity::Warning) => theme.warn(),
                Some(Severity::Info) => theme.info(),
                None => figure_style,
            };
            cells.extend([
                figure(&|s| format!("{:.0}", s.fragmentation_pct())),
                Cell::from(last.map(|_| format!("{quota_pct:.1}")).unwrap_or_else(|| "-".into())).style(quota_style),
                if own.is_empty() {
                    Cell::from("")
                } else {
                    Cell::from(own.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")).style(theme.crit())
                },
            ]);
            if wide {
                cells.extend([
                    figure(&|s| s.raft_term.to_string()),
                    figure(&|s| s.raft_index.to_string()),
                    figure(&|s| s.raft_lag().to_string()),
                ]);
            }
            cells.push(
                Cell::from(
                    last.map(|(t, _)| format_age(now.saturating_duration_since(*t))).unwrap_or_else(|| "-".into()),
                )
                .style(figure_style),
            );
            Row::new(cells)
        })
        .collect();
    let wall = app.wall_clock.unwrap_or_else(std::time::SystemTime::now);
    let mut title = format!(" Members ({}) ", app.cluster.members.len());
    if !app.cluster.voters_down().is_empty() {
        title.push_str(&format!("· {} ", app.cluster.quorum().tolerance_text()));
    }
    if let Some(backup) = super::backup::last_backup_text(app, wall) {
        title.push_str(&format!("· {backup} "));
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title()))
        .column_spacing(1)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(theme.selected())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

pub fn draw_detail(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    let Some(member) = app.cluster.members.get(app.selected) else {
        frame.render_widget(Block::default().borders(Borders::ALL).title(" Member "), area);
        return;
    };
    let label = |text: &str| Span::styled(format!("{text:<8}"), theme.dim());
    let mut lines = vec![
        Line::from(vec![label("ID"), Span::raw(hex(member.identity.id))]),
        Line::from(vec![label("URL"), Span::raw(member.identity.endpoint().to_string())]),
    ];
    if let Some(reach) =
        app.reach.iter().find(|r| r.url == member.identity.endpoint() || r.member == member.identity.name)
    {
        let how = match (&reach.pod, reach.via) {
            (Some(pod), "port-forward") => format!("port-forward {pod}"),
            (Some(pod), _) => format!("pod IP ({pod})"),
            (None, via) => via.to_string(),
        };
        lines.push(Line::from(vec![label("via"), Span::raw(how)]));
    }
    let role = if app.cluster.leader_id() == Some(member.identity.id) {
        "leader"
    } else if member.is_learner() {
        "learner"
    } else {
        "follower"
    };
    match member.last_status() {
        Some((at, s)) => {
            lines.push(Line::from(vec![label("version"), Span::raw(format!("{}  {role}", s.version))]));
            lines.push(Line::from(vec![
                label("raft"),
                Span::raw(format!("term {}  index {}", s.raft_term, s.raft_index)),
            ]));
            let lag_style = if s.raft_lag() > 1000 { theme.warn() } else { Style::default() };
            lines.push(Line::from(vec![
                label("applied"),
                Span::raw(format!("{}  ", s.raft_applied_index)),
                Span::styled(format!("lag {}", s.raft_lag()), lag_style),
            ]));
            lines.push(Line::from(vec![
                label("free"),
                Span::raw(format!("{} ({:.1}%)", format_bytes(s.free_bytes()), s.fragmentation_pct())),
            ]));
            lines.push(Line::from(vec![
                label("figures"),
                Span::raw(format!("taken {} ago", format_age(now.saturating_duration_since(*at)))),
            ]));
        }
        None => lines.push(Line::from(vec![label("role"), Span::raw(role)])),
    }
    let (health, style) = health_text(app, member, theme, now, false);
    lines.push(Line::from(vec![label("health"), Span::styled(health, style)]));
    if let Some(stuck) = app.cluster.learner_stuck(member, now) {
        lines.push(Line::styled(stuck, theme.warn()));
    }
    let learner_refusal = member.is_learner() && member.read_refused_as_learner();
    if let Some(error) = member.error.as_ref().or(match &member.health {
        Some(Err(e)) if !learner_refusal => Some(e),
        _ => None,
    }) {
        lines.push(Line::styled(safe_text(error), theme.warn()));
    }
    let block = Block::default().borders(Borders::ALL).title(format!(" {} ", member.identity.display_name()));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(ratatui::widgets::Wrap { trim: true }), area);
}
