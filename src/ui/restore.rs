//! The restore wizard on the lower half: the plan with its gates and the
//! recovery host chosen; then the checklist with each step's state beside the
//! step being done (where, its commands, what it gave) and the live figures
//! the restore moves (members, revisions, pending CSRs); the person's prompt
//! on top when the engine waits for a typed answer.

use etcd_console_core::units::safe_text;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::restore::{Asked, Prompt, RestoreWizard, Stage};
use crate::app::App;
use etcd_console_core::wizard::restore::{Outcome, RestoreRun, StepState};

use super::Theme;
use crate::app::keys::{said, Context};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, wizard: &RestoreWizard, theme: Theme) {
    let backup = wizard.backup_dir.as_ref().map(|d| d.display().to_string());
    let title = match &backup {
        Some(dir) => format!(" Restore from {dir} "),
        None => " Restore ".to_string(),
    };
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match (&backup, wizard.stage, &wizard.run) {
        (None, _, _) => {
            let lines = vec![
                Line::raw("no backup to restore from: start the console with --restore-backup DIR"),
                Line::styled(
                    "DIR holds one backup as cluster-backup.sh writes it: snapshot_<ts>.db and static_kuberesources_<ts>.tar.gz",
                    theme.dim(),
                ),
                Line::styled("`etcd-console restore plan|run` does the same without the screen", theme.dim()),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
        (_, Stage::Planning, None) => {
            frame.render_widget(Paragraph::new("surveying the backup, the cluster and its hosts ..."), inner);
        }
        (_, Stage::Planning, Some(run)) => {
            frame.render_widget(Paragraph::new(plan_lines(wizard, run, theme)).wrap(Wrap { trim: false }), inner)
        }
        (_, _, Some(run)) => draw_run(frame, inner, app, wizard, run, theme),
        (_, _, None) => frame.render_widget(Paragraph::new("starting ..."), inner),
    }
    if let Some(prompt) = &wizard.prompt {
        draw_prompt(frame, area, prompt, app.cluster.cluster_id(), theme);
    }
}

fn plan_lines(wizard: &RestoreWizard, run: &RestoreRun, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(survey) = &run.survey {
        if let Some(problem) = &survey.unreadable {
            lines.push(Line::styled(format!("cannot make the plan: {problem}"), theme.crit()));
            return lines;
        }
        lines.push(Line::raw(format!(
            "{} ({}), {}",
            survey.cluster_name,
            survey.cluster_id.as_deref().unwrap_or("cluster ID ?"),
            survey.version.as_deref().unwrap_or("version ?")
        )));
    }
    let hosts: Vec<String> = wizard
        .hosts
        .iter()
        .map(|h| if Some(h) == wizard.chosen.as_ref() { format!("(•) {h}") } else { format!("( ) {h}") })
        .collect();
    if wizard.hosted {
        let hosted = run.options.hosted_cluster.clone().unwrap_or_default();
        lines.push(Line::raw(format!("HostedCluster {hosted}: every step through the management cluster's API")));
    } else if wizard.chosen.is_none() {
        lines.push(Line::styled(
            format!("{}: {}", said(Context::RestoreChoose.hints(), ""), wizard.hosts.join(", ")),
            theme.warn(),
        ));
        return lines;
    } else {
        lines.push(Line::raw(format!(
            "recovery host: {}   {}",
            hosts.join("  "),
            said(Context::RestoreAnother.hints(), "")
        )));
    }
    for gate in &run.gates {
        let (mark, style) = if gate.passed { ("ok", theme.dim()) } else { ("NO", theme.crit()) };
        lines.push(Line::styled(format!("[{mark}] {:<22} {}", gate.id, gate.detail), style));
    }
    let pnr = run.point_of_no_return().map(|s| format!("step {}: {}", s.id, s.title)).unwrap_or_default();
    lines.push(Line::raw(format!("{} steps; the point of no return is {pnr}", run.steps.len())));
    if wizard.planning {
        lines.push(Line::styled("judging the gates again ...", theme.dim()));
    } else if run.gates.iter().all(|g| g.passed) && (wizard.chosen.is_some() || wizard.hosted) {
        lines.push(Line::styled(said(Context::RestoreReady.hints(), ""), theme.ok()));
    } else {
        lines.push(Line::styled("a gate does not pass: the run would be refused", theme.warn()));
    }
    lines
}

fn mark(state: &StepState) -> &'static str {
    match state {
        StepState::Done => "[x]",
        StepState::Running => "[>]",
        StepState::Failed => "[!]",
        StepState::Skipped => "[-]",
        StepState::Pending => "[ ]",
    }
}

fn draw_run(frame: &mut Frame, area: Rect, app: &App, wizard: &RestoreWizard, run: &RestoreRun, theme: Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).spacing(2).areas(area);
    let in_flight = wizard.current.as_ref().map(|(i, _)| *i).filter(|_| run.outcome().is_none());
    // The checklist, scrolled to keep the step being done in view.
    let rows = left.height as usize;
    let at = run
        .records
        .iter()
        .position(|r| matches!(r.state, StepState::Pending | StepState::Running))
        .unwrap_or(run.steps.len());
    let first = at.saturating_sub(rows / 3).min(run.steps.len().saturating_sub(rows));
    let checklist: Vec<Line> = run
        .steps
        .iter()
        .zip(&run.records)
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(index, (step, record))| {
            // The step being done is reported as begun before the run's next copy arrives.
            let state = if Some(index) == in_flight && record.state == StepState::Pending {
                &StepState::Running
            } else {
                &record.state
            };
            let style = match state {
                StepState::Running => theme.title(),
                StepState::Failed => theme.crit(),
                StepState::Done | StepState::Skipped => theme.dim(),
                StepState::Pending => ratatui::style::Style::default(),
            };
            let pnr = if step.point_of_no_return { " <- no return" } else { "" };
            Line::styled(format!("{} {:<14} {}{pnr}", mark(state), step.id, step.title), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(checklist), left);

    let mut lines = Vec::new();
    if let Some((index, step)) = &wizard.current {
        let place = step
            .node
            .as_ref()
            .map(|n| format!("{} {n}", step.place.as_str()))
            .unwrap_or_else(|| step.place.as_str().into());
        lines.push(Line::styled(format!("step {} ({place}): {}", step.id, step.title), theme.title()));
        for command in &step.shown {
            lines.push(Line::raw(format!("  $ {command}")));
        }
        if let Some(record) = run.records.get(*index) {
            for text in record.detail.lines().take(4) {
                lines.push(Line::styled(format!("  {}", safe_text(text)), theme.dim()));
            }
            if let Some(reason) = &record.reason {
                lines.push(Line::styled(format!("  reason {}", safe_text(reason)), theme.dim()));
            }
        }
    }
    // What the last finished step gave (the step in flight has not said anything yet).
    let last =
        run.steps.iter().zip(&run.records).rev().find(|(_, r)| matches!(r.state, StepState::Done | StepState::Failed));
    if let Some((step, record)) = last.filter(|_| run.outcome().is_none()) {
        let first = record.detail.lines().next().unwrap_or("done");
        lines.push(Line::styled(format!("last: {} {first}", step.id), theme.dim()));
    }
    // What the restore moves, as the live panes see it.
    let up = app.cluster.members.iter().filter(|m| m.is_healthy()).count();
    let leader = app.cluster.leader_id().map(|id| app.cluster.name_of(id)).unwrap_or_else(|| "none".into());
    lines.push(Line::raw(format!("etcd: {up} of {} members healthy, leader {leader}", app.cluster.members.len())));
    let revisions: Vec<String> = app
        .openshift
        .rollouts()
        .iter()
        .map(|r| format!("{} {}{}", r.operator, r.latest_revision, if r.progressing { "…" } else { "" }))
        .collect();
    if !revisions.is_empty() {
        lines.push(Line::raw(format!("revisions: {}", revisions.join("  "))));
    }
    lines.push(Line::raw(format!("pending CSRs: {}", app.openshift.pending_csrs().len())));
    if run.quorum_guard_off {
        lines.push(Line::styled("QUORUM GUARD OFF until step 19", theme.warn()));
    }
    match run.outcome() {
        Some(Outcome::Completed) => lines.push(Line::styled("restored: every step done and checked", theme.ok())),
        Some(outcome) => lines.push(Line::styled(outcome.describe(), theme.crit())),
        None => lines.push(Line::styled(said(Context::RestoreRunning.hints(), "   "), theme.dim())),
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), right);
}

fn draw_prompt(frame: &mut Frame, area: Rect, prompt: &Prompt, etcd_id: Option<u64>, theme: Theme) {
    use etcd_console_core::cluster::cluster_naming;
    let (title, mut lines) = match &prompt.asked {
        Asked::Confirm(c) => (
            " Restore: type the cluster's name ".to_string(),
            vec![
                Line::raw(format!("restore {}", cluster_naming(Some(&c.cluster_name), Some(&c.api_url), etcd_id))),
                Line::raw(format!("on {} from {}", c.recovery_host, c.backup)),
                Line::styled(format!("the point of no return is {}", c.point_of_no_return), theme.warn()),
                Line::raw(format!("type {} and {}", c.cluster_name, said(Context::RestoreName.hints(), "; "))),
            ],
        ),
        Asked::Done(step) => {
            let mut lines = vec![Line::raw(format!("step {}: {}", step.id, step.title))];
            if let etcd_console_core::wizard::restore::Act::Person { instruction } = &step.act {
                lines.push(Line::raw(instruction.clone()));
            }
            for command in &step.shown {
                lines.push(Line::raw(format!("on {}: $ {command}", step.node.as_deref().unwrap_or("the host"))));
            }
            lines.push(Line::raw(format!("type done and {}", said(Context::RestoreStep.hints(), "; "))));
            (" Restore: your step ".to_string(), lines)
        }
    };
    let width = area.width.saturating_sub(4).min(100);
    let mut typed = vec![Span::styled("> ", theme.title())];
    typed.extend(prompt.typed.spans(theme.title(), usize::from(width.saturating_sub(5))));
    lines.push(Line::from(typed));
    let height = (lines.len() as u16 + 2).min(area.height);
    let dialog = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, dialog);
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), dialog);
}
