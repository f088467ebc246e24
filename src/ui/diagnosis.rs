//! The diagnosis pane: for a voter down or not serving reads, what the cluster around it
//! says (its pod, node, Machine, the etcd operator), since when it has been down, how many
//! more failures the cluster takes, and the next step. In place of the DB pane, whose
//! figures of a dead member are stale anyway.

use std::time::{Instant, SystemTime};

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::Theme;
use crate::app::openshift::ApiState;
use crate::app::App;
use etcd_console_core::cluster::{MemberState, NextStep};
use etcd_console_core::openshift::diagnosis::parse_time;
use etcd_console_core::openshift::watch::Watched;
use etcd_console_core::units::{format_age, safe_text};

/// From this width on the diagnosis sits beside the member's detail; below it, alone.
pub const BESIDE_DETAIL: u16 = 120;

/// Whether the selected member gets the diagnosis pane: a voter heard from that is down or
/// does not serve reads.
pub fn wanted(member: &MemberState) -> bool {
    !member.is_learner() && !member.not_heard_yet() && !member.serves_reads()
}

fn ago(wall: SystemTime, at: Option<&str>) -> String {
    match at.and_then(parse_time) {
        Some(at) => format_age(wall.duration_since(at).unwrap_or_default()),
        None => "?".into(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, member: &MemberState, theme: Theme, now: Instant, alone: bool) {
    let wall = app.wall_clock.unwrap_or_else(SystemTime::now);
    let label = |text: &str| Span::styled(format!("{text:<9}"), theme.dim());
    let surroundings = app.openshift.surroundings();
    let diagnosis = surroundings.diagnose(&member.identity);
    let mut lines = Vec::new();
    // What is left and what to do first: the rest may be cut on a small terminal.
    let quorum = app.cluster.quorum();
    lines.push(Line::from(vec![
        label("quorum"),
        Span::raw(format!("{}/{} voters serve reads, quorum {}: ", quorum.serving, quorum.voters, quorum.needed)),
        Span::styled(quorum.tolerance_text(), if quorum.can_lose() == 0 { theme.crit() } else { theme.ok() }),
    ]));
    match app.cluster.next_step() {
        Some(NextStep::Replace { .. }) => lines.push(Line::from(vec![
            label("next"),
            Span::styled(" M ", theme.key()),
            Span::raw(" replace this member (\"Replacing an unhealthy etcd member\", OpenShift 4.14)"),
        ])),
        Some(step @ NextStep::Restore { .. }) => {
            lines.push(Line::from(vec![label("next"), Span::styled(step.text(), theme.crit())]))
        }
        None => {}
    }
    if alone {
        let (health, style) = super::members::health_text(app, member, theme, now, false);
        let error = member.error.as_ref().or(match &member.health {
            Some(Err(e)) => Some(e),
            _ => None,
        });
        let mut spans = vec![label("etcd"), Span::styled(health, style)];
        if let Some(error) = error {
            spans.push(Span::styled(format!(": {}", safe_text(error)), theme.warn()));
        }
        lines.push(Line::from(spans));
    }
    let pods_seen = app.openshift.objects.contains_key(&Watched::EtcdPods);
    match (&app.openshift.api, &diagnosis) {
        (ApiState::Unavailable(_), _) => lines.push(Line::from(vec![
            label("API"),
            Span::styled("none: its pod, node and Machine are unknown (give --kubeconfig)", theme.dim()),
        ])),
        (_, None) if pods_seen => {
            lines.push(Line::from(vec![label("pod"), Span::styled("no etcd pod of this member seen", theme.dim())]))
        }
        _ => {}
    }
    for problem in &surroundings.problems {
        lines.push(Line::styled(format!("cannot read {problem}"), theme.warn()));
    }
    if let Some(d) = &diagnosis {
        if let Some(pod) = &d.pod {
            let state = d.pod_reason.as_deref().map(|r| format!(", etcd {}", safe_text(r))).unwrap_or_default();
            let mut restarts = format!(", {} restarts", d.restarts.unwrap_or(0));
            if let Some(t) = &d.last_termination {
                restarts.push_str(&format!(
                    ", last {} exit {} {} ago",
                    safe_text(&t.reason),
                    t.exit_code,
                    ago(wall, t.finished_at.as_deref())
                ));
            }
            lines.push(Line::from(vec![
                label("pod"),
                Span::raw(format!("{} {}", safe_text(pod), safe_text(d.pod_phase.as_deref().unwrap_or("?")))),
                Span::styled(state, theme.crit()),
                Span::raw(restarts),
            ]));
        }
        if let (Some(node), Some(ready)) = (&d.node, &d.node_ready) {
            let (state, style) = if ready.status == "True" {
                ("Ready".to_string(), theme.ok())
            } else {
                (format!("NotReady ({})", safe_text(&ready.reason)), theme.crit())
            };
            lines.push(Line::from(vec![
                label("node"),
                Span::raw(format!("{} ", safe_text(node))),
                Span::styled(state, style),
                Span::raw(format!(" for {}", ago(wall, ready.since.as_deref()))),
            ]));
        }
        if let Some(machine) = &d.machine {
            let instance =
                d.instance_state.as_deref().map(|s| format!(", instance {}", safe_text(s))).unwrap_or_default();
            lines.push(Line::from(vec![
                label("machine"),
                Span::raw(format!(
                    "{} {}{instance}",
                    safe_text(machine),
                    safe_text(d.machine_phase.as_deref().unwrap_or("?"))
                )),
            ]));
        }
        if let Some(since) = &d.down_since {
            lines.push(Line::from(vec![
                label("down"),
                Span::styled(format!("for {}", ago(wall, Some(since))), theme.crit()),
                Span::styled(format!(" (since {since})"), theme.dim()),
            ]));
        }
    }
    if let Some(degraded) = &surroundings.etcd_degraded {
        lines.push(Line::from(vec![
            label("operator"),
            Span::styled(format!("etcd Degraded: {degraded}"), theme.warn()),
        ]));
    }
    let what = if member.is_up() { "serves no reads" } else { "is down" };
    let title = format!(" Why {} {what} ", member.identity.display_name());
    let block = Block::default().borders(Borders::ALL).title(title);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}
