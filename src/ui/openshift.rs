//! The OpenShift views of the lower half: encryption, rollouts and operators;
//! the pending CSRs with the selected one decoded; and the banners line.

use std::time::{Instant, SystemTime};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::Theme;
use crate::app::keys::{grouped, said, Context};
use crate::app::openshift::{ApiState, OpenShiftView};
use crate::app::App;
use etcd_console_core::openshift::csr::{self, CsrClass};
use etcd_console_core::units::{safe_text, safe_text_within};

/// The most characters of an outside field the CSR detail shows (it wraps in 46 columns).
const DETAIL_MAX_CHARS: usize = 160;
use etcd_console_core::openshift::model::Rollout;
use etcd_console_core::units::format_age;

pub(crate) fn wall_now(app: &App) -> SystemTime {
    app.wall_clock.unwrap_or_else(SystemTime::now)
}

pub(crate) fn since(at: Option<&str>, now: SystemTime) -> String {
    at.and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| now.duration_since(t).ok())
        .map(format_age)
        .unwrap_or_else(|| "-".into())
}

/// One line on the state of the API connection: where, and how fresh or how long failing.
pub(crate) fn api_line(view: &OpenShiftView, theme: Theme, now: Instant) -> Line<'static> {
    match &view.api {
        ApiState::Unavailable(why) => Line::styled(safe_text(why), theme.warn()),
        ApiState::Connecting => Line::styled("connecting to the API ...", theme.dim()),
        ApiState::Connected { server } => {
            if let Some(since) = view.troubled_since() {
                let error = view.trouble.values().next().map(|(e, _)| safe_text(e)).unwrap_or_default();
                Line::styled(
                    format!(
                        "API {} failing for {}: {error}",
                        safe_text(server),
                        format_age(now.saturating_duration_since(since))
                    ),
                    theme.crit(),
                )
            } else {
                let age = view
                    .updated()
                    .map(|at| format!(" · live, changed {} ago", format_age(now.saturating_duration_since(at))));
                Line::styled(format!("API {}{}", safe_text(server), age.unwrap_or_default()), theme.dim())
            }
        }
    }
}

fn status_style(theme: Theme, value: &str, good: &str) -> ratatui::style::Style {
    match value {
        v if v == good => theme.ok(),
        "" | "Unknown" => theme.dim(),
        _ => theme.crit(),
    }
}

/// Encryption and ClusterOperators on the left, rollouts on the right.
pub fn draw_openshift(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    let view = &app.openshift;
    let wall = wall_now(app);
    let [left, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let mut lines = vec![api_line(view, theme, now)];
    if view.not_openshift() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Not an OpenShift cluster: this API serves no config.openshift.io or", theme.warn()));
        lines.push(Line::styled("operator.openshift.io objects, so there is no encryption, rollout or", theme.warn()));
        lines
            .push(Line::styled("operator state to show. The etcd panes and the CSR view work as usual.", theme.warn()));
    }
    match view.encryption() {
        Some(encryption) => {
            lines.push(Line::from(vec![Span::raw("type "), Span::styled(safe_text(&encryption.kind), theme.title())]));
            for c in &encryption.conditions {
                let style = if c.reason.ends_with("InProgress") {
                    theme.warn()
                } else if c.reason.ends_with("Completed") || c.reason == "EncryptionDisabled" {
                    theme.ok()
                } else {
                    theme.dim()
                };
                let resource = safe_text(c.resource.split('.').next().unwrap_or(&c.resource));
                lines.push(Line::from(vec![
                    Span::raw(format!("{resource:<19}")),
                    Span::styled(format!("{:<21}", safe_text(&c.reason)), style),
                    Span::styled(format!(" {}", since(c.since.as_deref(), wall)), theme.dim()),
                ]));
                lines.push(Line::styled(format!("  {}", safe_text(&c.message)), theme.dim()));
            }
        }
        None if matches!(view.api, ApiState::Connected { .. })
            && view.objects.contains_key(&etcd_console_core::openshift::watch::Watched::ApiServer) =>
        {
            lines.push(Line::styled(
                "no encryption objects: not an OpenShift cluster, or no rights to read them",
                theme.warn(),
            ));
        }
        None => {}
    }
    for hc in view.hosted_clusters(wall) {
        let encryption = match (&hc.secret_encryption, &hc.active_key) {
            (Some(kind), _) if hc.kms_provider.is_some() => format!(
                "secretEncryption {} ({}), key {}",
                safe_text(kind),
                safe_text(hc.kms_provider.as_deref().unwrap_or_default()),
                safe_text(hc.kms_active_key.as_deref().unwrap_or("not named"))
            ),
            (Some(kind), Some(key)) => format!("secretEncryption {}, key {}", safe_text(kind), safe_text(key)),
            (Some(kind), None) => format!("secretEncryption {}", safe_text(kind)),
            _ => "no secretEncryption".to_string(),
        };
        let paused = if hc.paused_until.is_some() { "  PAUSED" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("HostedCluster {}/{}", safe_text(&hc.namespace), safe_text(&hc.name)), theme.title()),
            Span::styled(paused, theme.warn()),
        ]));
        lines.push(Line::styled(format!("  {encryption}"), theme.dim()));
    }
    let operators = view.operators();
    if !operators.is_empty() {
        lines.push(Line::styled(format!("{:<24}{:<6}{:<6}{}", "operator", "avail", "prog", "degr"), theme.dim()));
        for o in &operators {
            lines.push(Line::from(vec![
                Span::raw(format!("{:<24}", safe_text(&o.name))),
                Span::styled(format!("{:<6}", safe_text(&o.available)), status_style(theme, &o.available, "True")),
                Span::styled(format!("{:<6}", safe_text(&o.progressing)), status_style(theme, &o.progressing, "False")),
                Span::styled(safe_text(&o.degraded), status_style(theme, &o.degraded, "False")),
            ]));
        }
    }
    let block = Block::default().borders(Borders::ALL).title(" Encryption · Operators ");
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), left);

    let rollouts = view.rollouts();
    let mut lines = Vec::new();
    let bar_width = (right.width as usize).saturating_sub(30).clamp(4, 30);
    for r in &rollouts {
        lines.extend(rollout_lines(r, bar_width, theme, wall));
    }
    if rollouts.is_empty() && view.not_openshift() {
        lines.push(Line::styled("no static-pod operators: not an OpenShift cluster", theme.dim()));
    } else if rollouts.is_empty() {
        lines.push(Line::styled("no static-pod operators seen yet", theme.dim()));
    }
    let block = Block::default().borders(Borders::ALL).title(" Rollouts (NodeInstallerProgressing) ");
    frame.render_widget(Paragraph::new(lines).block(block), right);
}

fn rollout_lines(r: &Rollout, bar_width: usize, theme: Theme, wall: SystemTime) -> Vec<Line<'static>> {
    if !r.status_reported {
        // Nothing is known of it yet (an installation in its first minutes): nothing is drawn as if it were.
        return vec![Line::from(vec![
            Span::styled(format!("{:<22}", safe_text(&r.operator)), theme.title()),
            Span::styled("no status yet: its operator has not reported", theme.warn()),
        ])];
    }
    let style = if r.progressing { theme.warn() } else { theme.ok() };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<22}", safe_text(&r.operator)), theme.title()),
        Span::raw(format!("rev {:<4}", r.latest_revision)),
        Span::styled(format!("{:<25}", safe_text(&r.reason)), style),
        Span::styled(if r.progressing { since(r.since.as_deref(), wall) } else { String::new() }, theme.dim()),
    ])];
    for node in &r.nodes {
        let at_latest = node.current_revision >= r.latest_revision;
        let done = if r.latest_revision > 0 { node.current_revision as f64 / r.latest_revision as f64 } else { 0.0 };
        let filled =
            if at_latest { bar_width } else { ((done * bar_width as f64) as usize).min(bar_width.saturating_sub(1)) };
        let target = node.target_revision.map(|t| format!("→{t}")).unwrap_or_default();
        let failed = node.last_failed_revision.map(|f| format!(" failed {f}")).unwrap_or_default();
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<12}", safe_text(&node.name))),
            Span::styled("█".repeat(filled), if at_latest { theme.ok() } else { theme.warn() }),
            Span::styled("·".repeat(bar_width - filled), theme.dim()),
            Span::raw(format!(" {}{target}", node.current_revision)),
            Span::styled(failed, theme.crit()),
        ]));
    }
    lines
}

/// The pending CSRs (only the rows on screen are built) and the selected one decoded.
pub fn draw_csrs(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    let view = &app.openshift;
    let all = view.pending_csrs();
    let shown = view.visible_csrs();
    let wall = wall_now(app);
    // The list keeps whole names, nodes and classes: the detail pane gives way first (down to
    // 24 columns), then the list drops REQUESTOR, then AGE.
    let name_width = shown.iter().map(|c| safe_text_within(&c.name, 64).chars().count()).max().unwrap_or(0).max(4) + 1;
    let node_width = shown
        .iter()
        .map(|c| c.node_name().map(|n| safe_text_within(&n, 40).chars().count()).unwrap_or(1))
        .max()
        .unwrap_or(0)
        .max(4);
    let class_width = "node-bootstrapper".len();
    let essential = u16::try_from(name_width + node_width + class_width + 2 + 2).unwrap_or(u16::MAX);
    let detail_width = area.width.saturating_sub(essential).clamp(24, 46);
    let [list_area, detail_area] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(detail_width)]).areas(area);
    let unexpected = all.iter().filter(|c| c.class == CsrClass::Unexpected).count();
    let count =
        if view.filter.is_empty() { all.len().to_string() } else { format!("{} of {}", shown.len(), all.len()) };
    let title = format!(" Pending CSRs ({count}, {unexpected} unexpected) ");
    let title = if view.editing_filter {
        // The filter being typed, with its cursor, takes the title (narrow screens have little of it).
        let count = format!(" ({} of {}) ", shown.len(), all.len());
        let room = usize::from(list_area.width).saturating_sub(count.chars().count() + 4);
        let mut spans = vec![Span::raw(" /")];
        spans.extend(view.filter_input.spans(Style::default(), room));
        spans.push(Span::raw(count));
        spans
    } else if !view.filter.is_empty() {
        let whole = format!("{title}/{} ", safe_text(&view.filter));
        // Narrow: the filter and the count first, so the filter is never the part cut off.
        let room = usize::from(list_area.width).saturating_sub(2);
        if whole.chars().count() <= room {
            vec![Span::raw(whole)]
        } else {
            vec![Span::raw(format!(" /{} ({count}, {unexpected} unexpected) ", safe_text(&view.filter)))]
        }
    } else {
        vec![Span::raw(title)]
    };
    let block = Block::default().borders(Borders::ALL).title(Line::from(title));
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);
    let [status_area, table_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(api_line(view, theme, now)), status_area);
    let room = (table_area.width as usize).saturating_sub(name_width + node_width + class_width + 2);
    let with_age = room >= 8;
    let with_requestor = room >= 8 + 11;
    let visible = (table_area.height as usize).saturating_sub(1).max(1);
    let selected = view.csr_selected.min(shown.len().saturating_sub(1));
    let first = selected.saturating_sub(visible.saturating_sub(1));
    let rows = shown.iter().enumerate().skip(first).take(visible).map(|(i, c)| {
        let class_style = match c.class {
            CsrClass::Unexpected => theme.crit(),
            _ => theme.ok(),
        };
        let marker = if i == selected { ">" } else { " " };
        let age = c.age(wall).map(format_age).unwrap_or_default();
        let mut cells = vec![
            Line::raw(format!("{marker}{}", safe_text_within(&c.name, 64))),
            Line::raw(c.node_name().map(|n| safe_text_within(&n, 40)).unwrap_or_else(|| "-".into())),
            Line::styled(c.class.as_str(), class_style),
        ];
        if with_age {
            cells.push(Line::raw(age));
        }
        if with_requestor {
            cells.push(Line::raw(safe_text_within(c.requestor.rsplit(':').next().unwrap_or(""), 64)));
        }
        let row = Row::new(cells);
        if i == selected {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let mut widths = vec![
        Constraint::Length(name_width as u16),
        Constraint::Length(node_width as u16),
        Constraint::Length(class_width as u16),
    ];
    let mut header = vec![" NAME", "NODE", "CLASS"];
    if with_age {
        widths.push(Constraint::Length(7));
        header.push("AGE");
    }
    if with_requestor {
        widths.push(Constraint::Min(10));
        header.push("REQUESTOR");
    }
    let table = Table::new(rows, widths).header(Row::new(header).style(theme.dim()));
    frame.render_widget(table, table_area);

    let mut lines = Vec::new();
    match shown.get(selected) {
        Some(c) => {
            let field = |label: &'static str, text: &str| {
                Line::from(vec![Span::styled(label, theme.dim()), Span::raw(safe_text_within(text, DETAIL_MAX_CHARS))])
            };
            lines.push(field("name      ", &c.name));
            lines.push(field("node      ", c.node_name().as_deref().unwrap_or("-")));
            lines.push(field("signer    ", &c.signer));
            lines.push(field("requestor ", &c.requestor));
            lines.push(field("subject   ", &c.subject()));
            lines.push(field("usages    ", &c.usages.join(", ")));
            let style = if c.class.is_valid() { theme.ok() } else { theme.crit() };
            lines
                .push(Line::from(vec![Span::styled("class     ", theme.dim()), Span::styled(c.class.as_str(), style)]));
            lines.push(Line::styled(safe_text_within(&c.reason, 2 * DETAIL_MAX_CHARS), style));
        }
        None if view.csrs.is_some() && !all.is_empty() => {
            lines.push(Line::styled("no CSR matches the filter", theme.dim()))
        }
        None if view.csrs.is_some() => lines.push(Line::styled("no pending CSRs", theme.ok())),
        None => lines.push(Line::styled("waiting for the CSR watch", theme.dim())),
    }
    lines.push(Line::raw(""));
    if let Some((recent, limit)) = csr::over_pending_limit(all, wall) {
        lines.push(Line::styled(csr::over_limit_text(recent, limit), theme.crit()));
    }
    if app.read_only {
        lines.push(Line::styled("read-only: approving and denying are off", theme.dim()));
    } else if view.may_approve == Some(false) {
        lines.push(Line::styled("this user may not approve CSRs", theme.warn()));
    } else {
        lines.push(Line::styled(said(Context::CsrActions.hints(), " · "), theme.dim()));
    }
    let block = Block::default().borders(Borders::ALL).title(" CSR ");
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), detail_area);
}

/// The confirmation every change goes through, naming what it changes.
pub fn draw_confirm(frame: &mut Frame, area: Rect, confirm: &crate::app::Confirm, theme: Theme) {
    // The question is the first line, not the border's title: it wraps instead of being cut.
    let mut lines = vec![Line::styled(safe_text(&confirm.title), theme.warn())];
    lines.extend(confirm.lines.iter().map(|l| {
        if l.starts_with('!') {
            Line::styled(safe_text(l), theme.crit())
        } else {
            Line::raw(safe_text(l))
        }
    }));
    lines.push(Line::raw(""));
    // Keys with one word together: the first boxed, the others after it ("y / Enter: do it").
    let mut spans = Vec::new();
    for (n, (labels, word)) in grouped(confirm.keys().hints()).into_iter().enumerate() {
        if n > 0 {
            spans.push(Span::raw("    "));
        }
        for (i, label) in labels.into_iter().enumerate() {
            spans.push(if i == 0 {
                Span::styled(format!(" {label} "), theme.key())
            } else {
                Span::raw(format!(" / {label}"))
            });
        }
        spans.push(Span::raw(format!(": {word}")));
    }
    lines.push(Line::from(spans));
    let width = area.width.saturating_sub(4).min(96);
    let paragraph = Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL).title(" Confirm a change ").title_style(theme.warn()))
        .wrap(Wrap { trim: false });
    super::popup(frame, area, width, paragraph);
}

/// The banners that must stay in sight (quorum guard off, rollouts, migrations).
pub fn banner_lines(banners: &[String], theme: Theme) -> Vec<Line<'static>> {
    banners
        .iter()
        .map(|b| {
            let style = if b.starts_with("quorum guard") { theme.crit() } else { theme.warn() };
            Line::styled(format!(" ⚠ {}", safe_text(b)), style)
        })
        .collect()
}
