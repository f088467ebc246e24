//! The node pane: every node with Ready (and for how long not), its roles, the kubelet's
//! version and the CSRs pending for it; the nodes not Ready first. After a restore this is
//! where the SRE sees which kubelets still have to come back.

use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use super::openshift::{api_line, since, wall_now};
use super::Theme;
use crate::app::App;
use etcd_console_core::units::{safe_text, safe_text_within};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: Instant) {
    let view = &app.openshift;
    let wall = wall_now(app);
    let nodes = view.nodes();
    let pending = view.pending_by_node();
    let title = match &nodes {
        Some(nodes) => {
            let not_ready = nodes.iter().filter(|n| !n.is_ready()).count();
            format!(" Nodes ({}, {not_ready} not Ready) ", nodes.len())
        }
        None => " Nodes ".to_string(),
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [status_area, table_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(api_line(view, theme, now)), status_area);
    let Some(mut nodes) = nodes else {
        frame.render_widget(Paragraph::new(Line::styled("waiting for the node watch", theme.dim())), table_area);
        return;
    };
    // Not Ready first: those are the ones to act on.
    nodes.sort_by_key(|n| n.is_ready());
    let name_width = nodes.iter().map(|n| safe_text_within(&n.name, 63).chars().count()).max().unwrap_or(0).max(4);
    let rows_room = (table_area.height as usize).saturating_sub(1);
    let cut = nodes.len() > rows_room;
    let shown = if cut { rows_room.saturating_sub(1) } else { nodes.len() };
    let mut rows: Vec<Row> = nodes
        .iter()
        .take(shown)
        .map(|n| {
            let (ready, style) = if n.is_ready() {
                ("Ready".to_string(), theme.ok())
            } else {
                let word = if n.ready == "False" { "NotReady" } else { "Unknown" };
                (format!("{word} {}", since(n.ready_since.as_deref(), wall)), theme.crit())
            };
            let count = pending.get(&n.name).copied().unwrap_or(0);
            let csr_style = match count {
                0 => theme.dim(),
                1 | 2 => theme.warn(),
                _ => theme.crit(),
            };
            Row::new(vec![
                Line::raw(safe_text_within(&n.name, 63)),
                Line::styled(ready, style),
                Line::raw(safe_text(&n.roles.join(","))),
                Line::styled(count.to_string(), csr_style),
                Line::raw(n.kubelet_version.as_deref().map(safe_text).unwrap_or_else(|| "-".into())),
            ])
        })
        .collect();
    if cut {
        rows.push(Row::new(vec![Line::styled(format!("... and {} more", nodes.len() - shown), theme.dim())]));
    }
    let widths = [
        Constraint::Length(name_width as u16),
        Constraint::Length(13),
        Constraint::Length(20),
        Constraint::Length(5),
        Constraint::Min(8),
    ];
    let table =
        Table::new(rows, widths).header(Row::new(vec!["NAME", "READY", "ROLES", "CSRS", "KUBELET"]).style(theme.dim()));
    frame.render_widget(table, table_area);
}
