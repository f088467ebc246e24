//! Pure rendering: reads the App and the clock, never changes them.

pub mod alert_list;
pub mod backup;
pub mod db;
pub mod defrag;
pub mod diagnosis;
pub mod encryption;
pub mod glance;
pub mod help;
pub mod member;
pub mod members;
pub mod nodes;
pub mod openshift;
pub mod restore;
pub mod space;
pub mod theme;
pub mod timeline;

use etcd_console_core::units::safe_text;
use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::keys::{footer_help, footer_keys, said, Context, Place};
use crate::app::{App, View, WizardKind};
use etcd_console_core::cluster::{alerts, report::hex, Discovery};
use etcd_console_core::units::format_age;
pub use theme::Theme;

pub fn draw(frame: &mut Frame, app: &App, theme: Theme, now: Instant) {
    let area = frame.area();
    let wall = app.wall_clock.unwrap_or_else(std::time::SystemTime::now);
    // Banners wrap (never cut): as many whole as fit in four lines (six on a tall terminal).
    let banners = fit_banners(openshift::banner_lines(&app.openshift.banners(wall), theme), area, theme);
    let banner_height = u16::try_from(banners.line_count(area.width)).unwrap_or(u16::MAX);
    // One glance on the members view: two lines when the terminal is tall.
    // A wizard on a short terminal needs the row more than the strip (its runs have badges).
    let room = area.height >= 40 || app.open_wizard().is_none();
    let strip = if app.view == View::Member && !app.show_timeline && room {
        let lines = if area.height >= 40 { 2 } else { 1 };
        glance::lay_out(&glance::items(app, theme, now, wall), area.width, lines)
    } else {
        Vec::new()
    };
    let strip_height = strip.len() as u16;
    let members_height = (app.cluster.members.len() as u16 + 3)
        .clamp(5, area.height.saturating_sub(10 + banner_height + strip_height).max(5));
    let [header, badges, strip_area, banner_area, members_area, bottom, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(strip_height),
        Constraint::Length(banner_height),
        Constraint::Length(members_height),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(banners, banner_area);
    frame.render_widget(Paragraph::new(strip), strip_area);
    let alerts = alerts::evaluate(&app.cluster, now);
    draw_header(frame, header, app, theme, now);
    draw_badges(frame, badges, glance::run_badges(app, theme), &alerts, theme);
    match &app.cluster.discovery {
        Discovery::Known { .. } => {
            members::draw_table(frame, members_area, app, theme, now);
            draw_bottom(frame, bottom, app, theme, now);
        }
        // The OpenShift views need no etcd: they stay available while the members cannot be reached.
        discovery if app.view != View::Member => {
            draw_connecting(frame, members_area, app, discovery, theme, now);
            draw_bottom(frame, bottom, app, theme, now);
        }
        discovery => draw_connecting(frame, members_area.union(bottom), app, discovery, theme, now),
    }
    if app.show_timeline {
        timeline::draw(frame, members_area.union(bottom), app, theme);
    }
    draw_footer(frame, footer, app, theme);
    if app.show_help {
        help::draw(frame, area, theme, app.help_scroll);
    }
    if app.show_alerts {
        alert_list::draw(frame, area, &alerts, theme);
    }
    if let Some(confirm) = &app.confirm {
        openshift::draw_confirm(frame, area, confirm, theme);
    }
    scrub(frame.buffer_mut());
}

/// The banners that fit whole in the lines they may take, and a line saying how many more
/// the OpenShift view shows.
fn fit_banners(banners: Vec<Line<'static>>, area: Rect, theme: Theme) -> Paragraph<'static> {
    let max = if area.height >= 40 { 6 } else { 4 };
    let height = |line: &Line<'static>| Paragraph::new(line.clone()).wrap(Wrap { trim: false }).line_count(area.width);
    let mut shown = Vec::new();
    let mut used = 0;
    for (i, banner) in banners.iter().enumerate() {
        let more = usize::from(i + 1 < banners.len());
        if used + height(banner) + more > max {
            break;
        }
        used += height(banner);
        shown.push(banner.clone());
    }
    let left = banners.len() - shown.len();
    if left > 0 {
        shown.push(Line::styled(format!(" ⚠ {left} more: Tab shows them in the OpenShift view"), theme.warn()));
    }
    Paragraph::new(shown).wrap(Wrap { trim: false })
}

/// The last guard before the terminal: a cell holding a character `safe_text` would have
/// escaped (outside text some pane drew as it came) keeps only its printable part, or shows
/// `�`. No control character, escape sequence or direction mark reaches the terminal, whatever
/// a pane drew.
pub(crate) fn scrub(buffer: &mut ratatui::buffer::Buffer) {
    use etcd_console_core::units::is_unsafe_char;
    for cell in buffer.content.iter_mut() {
        if cell.symbol().chars().any(is_unsafe_char) {
            let kept: String = cell.symbol().chars().filter(|c| !is_unsafe_char(*c)).collect();
            let shown = if kept.is_empty() { "\u{fffd}".to_string() } else { kept };
            cell.set_symbol(&shown);
        }
    }
}

/// A wizard's line of keys, from the key table: each key boxed, then its word.
pub(crate) fn keys_line(context: Context, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for hint in context.hints() {
        spans.push(Span::styled(format!(" {} ", hint.label), theme.key()));
        spans.push(Span::raw(format!(" {}  ", hint.word)));
    }
    Line::from(spans)
}

/// Draws `paragraph` (with its block) centred over `area`, as tall as its wrapped lines.
pub(crate) fn popup(frame: &mut Frame, area: Rect, width: u16, paragraph: Paragraph) {
    use ratatui::layout::Flex;
    use ratatui::widgets::Clear;
    // line_count adds the block's top and bottom but wraps at the width it is given: give it the inner width.
    let wrapped = u16::try_from(paragraph.line_count(width.saturating_sub(2))).unwrap_or(u16::MAX);
    let height = wrapped.min(area.height.saturating_sub(2)).max(3);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [window] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    frame.render_widget(Clear, window);
    frame.render_widget(paragraph, window);
}

fn draw_bottom(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    // The wizard open takes the lower half.
    let drawn = match app.open_wizard() {
        Some(WizardKind::Defrag) => app.defrag.as_ref().map(|w| defrag::draw(frame, area, app, w, theme)),
        Some(WizardKind::Backup) => app.backup.as_ref().map(|w| backup::draw(frame, area, app, w, theme)),
        Some(WizardKind::Encryption) => app.encryption.as_ref().map(|w| encryption::draw(frame, area, app, w, theme)),
        Some(WizardKind::Restore) => app.restore.as_ref().map(|w| restore::draw(frame, area, app, w, theme)),
        Some(WizardKind::Member) => app.member.as_ref().map(|w| member::draw(frame, area, app, w, theme)),
        Some(WizardKind::Space) => app.space.as_ref().map(|w| space::draw(frame, area, app, w, theme)),
        None => None,
    };
    if drawn.is_some() {
        return;
    }
    match app.view {
        View::Member => {
            let down = app.cluster.members.get(app.selected).filter(|m| diagnosis::wanted(m));
            match down {
                // Narrow: the diagnosis alone, with etcd's own error, so it fits at 80x24.
                Some(member) if area.width < diagnosis::BESIDE_DETAIL => {
                    diagnosis::draw(frame, area, app, member, theme, now, true)
                }
                _ => {
                    let [detail, db_area] =
                        Layout::horizontal([Constraint::Length(36), Constraint::Min(30)]).areas(area);
                    members::draw_detail(frame, detail, app, theme, now);
                    match down {
                        Some(member) => diagnosis::draw(frame, db_area, app, member, theme, now, false),
                        None => db::draw(frame, db_area, app, theme, now),
                    }
                }
            }
        }
        View::OpenShift => openshift::draw_openshift(frame, area, app, theme, now),
        View::Csrs => openshift::draw_csrs(frame, area, app, theme, now),
        View::Nodes => nodes::draw(frame, area, app, theme, now),
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    let cluster = &app.cluster;
    let mut spans =
        vec![Span::styled(" etcd-console ", theme.title()), Span::styled(format!("│ {} ", app.context), theme.dim())];
    if matches!(cluster.discovery, Discovery::Known { .. }) {
        match cluster.leader_id() {
            Some(leader) => spans.push(Span::styled(format!("│ leader {} ", cluster.name_of(leader)), theme.ok())),
            None => spans.push(Span::styled("│ NO LEADER ", theme.crit())),
        }
        let q = cluster.quorum();
        // Healthy as everywhere (MemberState::is_healthy); quorum counts the voters serving reads.
        let style = if q.is_lost() {
            theme.crit()
        } else if !q.has_quorum() {
            theme.dim()
        } else if q.healthy < q.voters {
            theme.warn()
        } else {
            theme.ok()
        };
        spans.push(Span::styled(format!("│ {}/{} healthy, quorum {} ", q.healthy, q.voters, q.needed), style));
    }
    if let Some(at) = cluster.last_update() {
        spans.push(Span::styled(format!("│ {} ago ", format_age(now.saturating_duration_since(at))), theme.dim()));
    }
    if let Some(id) = cluster.cluster_id() {
        spans.push(Span::styled(format!("│ cluster {}", hex(id)), theme.dim()));
    }
    // Whole parts only: the last ones (the cluster ID, the age) give way on a narrow terminal.
    while spans.len() > 2 && Line::from(spans.clone()).width() > usize::from(area.width) {
        spans.pop();
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The runs going on (even hidden), then the alerts.
fn draw_badges(frame: &mut Frame, area: Rect, runs: Vec<Span<'static>>, alerts: &[alerts::Alert], theme: Theme) {
    let mut spans = runs;
    if alerts.is_empty() {
        spans.push(Span::styled(" ✓ no alerts", theme.ok()));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    for alert in alerts {
        let style = match alert.severity {
            alerts::Severity::Critical => theme.crit(),
            alerts::Severity::Warning => theme.warn(),
            alerts::Severity::Info => theme.info(),
        };
        let name = alert.name.trim_start_matches("etcd");
        let subject = alert.member.as_deref().map(|m| format!(" {m}")).unwrap_or_default();
        spans.push(Span::styled(format!(" {} {name}{subject} ", alert.severity.label()), style));
        spans.push(Span::raw("·"));
    }
    spans.pop();
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_connecting(frame: &mut Frame, area: Rect, app: &App, discovery: &Discovery, theme: Theme, now: Instant) {
    let mut lines = vec![Line::raw(format!("Looking for the cluster at {}", app.context))];
    match discovery {
        Discovery::Connecting { since, attempt } => {
            lines.push(Line::raw(format!(
                "attempt {attempt}, trying for {}",
                format_age(now.saturating_duration_since(*since))
            )));
        }
        Discovery::Failed { error, since, retry_at, attempt } => {
            lines.push(Line::styled(
                format!(
                    "no member has answered for {} (attempt {attempt})",
                    format_age(now.saturating_duration_since(*since))
                ),
                theme.crit(),
            ));
            let wait = retry_at.saturating_duration_since(now);
            lines.push(Line::raw(if wait.is_zero() {
                "retrying now".to_string()
            } else {
                format!("next try in {}; {}", format_age(wait), said(Context::Retry.hints(), ""))
            }));
            lines.push(Line::raw(""));
            lines.extend(error.lines().map(|l| Line::styled(safe_text(l), theme.warn())));
        }
        Discovery::Known { .. } => {}
    }
    let block = Block::default().borders(Borders::ALL).title(" Members ");
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let mut spans = Vec::new();
    // A notice (an outcome, a refusal) comes first: the keys are also in help.
    if let Some(notice) = &app.notice {
        spans.push(Span::styled(format!(" {notice} "), theme.warn()));
        spans.push(Span::raw(" "));
    }
    // The keys that matter here, most important first, as many as fit whole; `?` ends them
    // ("more" when some were left out), then the refresh period if there is room.
    let place = match (app.open_wizard(), app.view) {
        _ if app.show_timeline => Place::Timeline,
        (Some(_), _) => Place::Wizard,
        (None, View::Member) => Place::Members,
        (None, View::OpenShift | View::Nodes) => Place::OpenShift,
        (None, View::Csrs) => Place::Csrs,
    };
    let width_of = |keys: &str, word: &str| keys.chars().count() + word.chars().count() + 5;
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let mut room = usize::from(area.width).saturating_sub(used);
    let (help_keys, help_word) = footer_help();
    let entries = footer_keys(place);
    // `?` always ends it (its word needs no spaces after it): room is kept for it.
    let end_width = width_of(help_keys, help_word).max(width_of(help_keys, "more")) - 2;
    let mut shown = 0;
    for (keys, word) in &entries {
        let width = width_of(keys, word);
        if width + end_width > room {
            break;
        }
        spans.push(Span::styled(format!(" {keys} "), theme.key()));
        spans.push(Span::raw(format!(" {word}  ")));
        room -= width;
        shown += 1;
    }
    let end_word = if shown == entries.len() { help_word } else { "more" };
    if width_of(help_keys, end_word) - 2 <= room {
        spans.push(Span::styled(format!(" {help_keys} "), theme.key()));
        spans.push(Span::raw(format!(" {end_word}")));
        room -= width_of(help_keys, end_word) - 2;
    }
    let every = format!("every {}", humantime::format_duration(app.refresh));
    if end_word == help_word && every.chars().count() + 2 <= room {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(every, theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests;
