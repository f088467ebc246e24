//! The member-replacement wizard on the lower half: the plan the engine made
//! for the selected member (what the survey found, the procedure and where
//! OpenShift documents it, every gate, the steps with their commands); then
//! the checklist beside the step being done (its commands, what its check
//! waits for, what the last one gave); the person's prompt on top when the
//! engine waits for a typed answer. Text read from the cluster goes through
//! `safe_text`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::Theme;
use crate::app::keys::{said, Context};
use crate::app::member::{Asked, MemberWizard, Prompt, Stage};
use crate::app::App;
use etcd_console_core::units::safe_text;
use etcd_console_core::wizard::member::{unhealthy_because, Act, Gate, MemberRun, Outcome, StepState, Survey};

/// From this inner width on the steps and their commands sit beside the gates; below it, the
/// plan is one line per fact (a gate that does not pass first, whole) so it fits 80x24.
const BESIDE: u16 = 100;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, wizard: &MemberWizard, theme: Theme) {
    let title = match wizard.run.as_ref().and_then(|r| r.survey.as_ref()).and_then(|s| s.target.as_ref()) {
        Some(target) => format!(" Replace etcd member {} ({:x}) ", safe_text(&target.name), target.id),
        None => format!(" Replace etcd member {} ", safe_text(&wizard.member)),
    };
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [body, keys] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    match (wizard.stage, &wizard.run) {
        (Stage::Planning, run) if wizard.planning || run.is_none() => {
            let lines = vec![
                Line::raw(format!(
                    "surveying etcd, {}'s node, Machine and pod, the backups and what this user may do ...",
                    safe_text(&wizard.member)
                )),
                Line::styled("nothing is changed to make the plan", theme.dim()),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        }
        (Stage::Planning, Some(run)) => {
            draw_plan(frame, body, run, theme);
            let line = if let Some(at) = &wizard.journalled {
                Line::styled(
                    format!(
                        "unfinished in the journal at {}: {}",
                        safe_text(at),
                        said(Context::MemberResume.hints(), "; ")
                    ),
                    theme.warn(),
                )
            } else if wizard.plan_passes() {
                Line::styled(format!("every gate passes: {}", said(Context::MemberReady.hints(), "; ")), theme.ok())
            } else {
                Line::styled(
                    format!("a gate does not pass: Enter is refused; {}", said(Context::MemberRefused.hints(), "; ")),
                    theme.warn(),
                )
            };
            frame.render_widget(Paragraph::new(line), keys);
        }
        (_, Some(run)) => {
            draw_run(frame, body, wizard, run, theme);
            let line = match run.outcome() {
                None => Line::styled(said(Context::MemberRunning.hints(), "   "), theme.dim()),
                Some(_) => Line::styled(said(Context::MemberFinished.hints(), "   "), theme.dim()),
            };
            frame.render_widget(Paragraph::new(line), keys);
        }
        (_, None) => frame.render_widget(Paragraph::new("starting: surveying the cluster again ..."), body),
    }
    if let Some(prompt) = &wizard.prompt {
        draw_prompt(frame, area, prompt, app.cluster.cluster_id(), theme);
    }
}

/// What the survey found of the member, as a person reads it: quorum, node, Machine, pod. Why it
/// counts as unhealthy is the first gate's detail.
fn diagnosis(survey: &Survey, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let Some(target) = &survey.target else { return lines };
    let voters = survey.voters().count();
    let healthy = survey.voters().filter(|m| m.healthy()).count();
    let quorum = survey.quorum();
    let can_lose = healthy.saturating_sub(quorum);
    lines.push(Line::from(vec![
        Span::raw(format!("{healthy} of {voters} voting members healthy, quorum {quorum}: ")),
        Span::styled(format!("can lose {can_lose} more"), if can_lose == 0 { theme.crit() } else { theme.ok() }),
        Span::styled(
            format!(
                "   {} {}",
                safe_text(&survey.cluster_name),
                survey.version.as_deref().map(safe_text).unwrap_or_else(|| "version ?".into())
            ),
            theme.dim(),
        ),
    ]));
    if let Some(node) = &target.node {
        let ready = target.node_ready.as_deref().unwrap_or("?");
        lines.push(Line::from(vec![
            Span::raw(format!("node {} Ready ", safe_text(node))),
            Span::styled(safe_text(ready), if target.node_is_ready() { theme.ok() } else { theme.crit() }),
            Span::raw(format!(
                "; Machine {} {}{}",
                target.machine.as_deref().map(safe_text).unwrap_or_else(|| "(none)".into()),
                target.machine_phase.as_deref().map(safe_text).unwrap_or_default(),
                target.instance_state.as_deref().map(|s| format!(" (instance {})", safe_text(s))).unwrap_or_default()
            )),
        ]));
    }
    if let Some(pod) = &target.pod {
        let style = if pod.failing() { theme.crit() } else { Style::default() };
        lines.push(Line::styled(safe_text(&pod.describe()), style));
    }
    if unhealthy_because(survey).is_none() {
        lines.push(Line::styled("it looks healthy", theme.dim()));
    }
    lines
}

fn gate_line(gate: &Gate, theme: Theme) -> Line<'static> {
    let (mark, style) = if gate.passed { ("ok", theme.dim()) } else { ("NO", theme.crit()) };
    Line::from(vec![
        Span::styled(format!("[{mark}] {} ", gate.id), style),
        Span::styled(safe_text(&gate.detail), if gate.passed { Style::default() } else { theme.crit() }),
    ])
}

fn step_lines(run: &MemberRun, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for step in &run.steps {
        let pnr = if step.point_of_no_return { " <- no return" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", step.id), theme.title()),
            Span::raw(safe_text(&step.title)),
            Span::styled(pnr, theme.warn()),
        ]));
        if let Act::Person { instruction, .. } = &step.act {
            lines.push(Line::raw(format!("  {}", safe_text(instruction))));
        }
        for command in &step.shown {
            lines.push(Line::styled(format!("  $ {}", safe_text(command)), theme.dim()));
        }
    }
    lines
}

fn draw_plan(frame: &mut Frame, area: Rect, run: &MemberRun, theme: Theme) {
    let Some(survey) = &run.survey else { return };
    if let Some(problem) = &survey.unreadable {
        let lines = vec![
            Line::styled(format!("cannot make the plan: {}", safe_text(problem)), theme.crit()),
            Line::styled("nothing was changed", theme.dim()),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
        return;
    }
    let wide = area.width >= BESIDE;
    let procedure = run.procedure.map(|procedure| {
        Line::from(vec![
            Span::styled("procedure ", theme.dim()),
            Span::raw(if wide { procedure.title() } else { procedure.as_str() }),
            Span::styled(format!(" ({})", procedure.documented_as()), theme.dim()),
        ])
    });
    // A gate that does not pass comes first.
    let (failed, passed): (Vec<_>, Vec<_>) = run.gates.iter().partition(|g| !g.passed);
    if wide {
        // The gates wrapped on the left; the steps on the right, wrapped when they fit, else one
        // row per command cut at its edge (`etcd-console member plan` prints them whole).
        let mut left = diagnosis(survey, theme);
        left.extend(procedure);
        left.extend(failed.iter().chain(&passed).map(|gate| gate_line(gate, theme)));
        let mut steps =
            vec![Line::styled(format!("{} steps, one at a time, each checked:", run.steps.len()), theme.dim())];
        steps.extend(step_lines(run, theme));
        let [gates, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).spacing(2).areas(area);
        frame.render_widget(Paragraph::new(left).wrap(Wrap { trim: false }), gates);
        let wrapped = Paragraph::new(steps.clone()).wrap(Wrap { trim: false });
        if wrapped.line_count(right.width) <= usize::from(right.height) {
            frame.render_widget(wrapped, right);
        } else {
            frame.render_widget(Paragraph::new(steps), right);
        }
        return;
    }
    // One line each, cut at the edge; a gate that does not pass is shown whole.
    let mut rows: Vec<(Line<'static>, bool)> = diagnosis(survey, theme).into_iter().map(|l| (l, false)).collect();
    rows.extend(procedure.map(|l| (l, false)));
    rows.extend(failed.into_iter().map(|g| (gate_line(g, theme), true)));
    rows.extend(passed.into_iter().map(|g| (gate_line(g, theme), false)));
    if !run.steps.is_empty() {
        let ids: Vec<String> = run
            .steps
            .iter()
            .map(|s| if s.point_of_no_return { format!("{} (no return)", s.id) } else { s.id.clone() })
            .collect();
        rows.push((Line::styled(format!("steps: {}", ids.join(", ")), theme.dim()), true));
    }
    let mut y = area.y;
    for (line, whole) in rows {
        let bottom = area.y + area.height;
        if y >= bottom {
            break;
        }
        let paragraph = if whole { Paragraph::new(line).wrap(Wrap { trim: false }) } else { Paragraph::new(line) };
        let height = if whole { u16::try_from(paragraph.line_count(area.width)).unwrap_or(1).max(1) } else { 1 };
        let height = height.min(bottom - y);
        frame.render_widget(paragraph, Rect { y, height, ..area });
        y += height;
    }
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

fn draw_run(frame: &mut Frame, area: Rect, wizard: &MemberWizard, run: &MemberRun, theme: Theme) {
    let [left, right] = Layout::horizontal([Constraint::Length(30), Constraint::Min(20)]).spacing(2).areas(area);
    let in_flight = wizard.current.as_ref().map(|(i, _)| *i).filter(|_| run.outcome().is_none());
    let mut checklist: Vec<Line> = run
        .steps
        .iter()
        .zip(&run.records)
        .enumerate()
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
                StepState::Pending => Style::default(),
            };
            let pnr = if step.point_of_no_return { " <- no return" } else { "" };
            Line::styled(format!("{} {}{pnr}", mark(state), step.id), style)
        })
        .collect();
    if run.steps.is_empty() {
        checklist.push(Line::styled("no step begun", theme.dim()));
    }
    frame.render_widget(Paragraph::new(checklist), left);

    // The outcome, or the step in flight and what its check waits for, first: the commands
    // may be cut on a small terminal.
    let mut lines = Vec::new();
    match run.outcome() {
        Some(Outcome::Completed) => lines.push(Line::styled(
            format!("{} replaced: every step done and checked", safe_text(&run.member_label())),
            theme.ok(),
        )),
        Some(outcome) => {
            let text = match outcome {
                // The engine's words name the command line; the console resumes with M.
                Outcome::Stopped { step, reason, .. } => format!(
                    "stopped at step {step}: {}; M, Enter resumes it there (the journal keeps it)",
                    safe_text(reason)
                ),
                other => safe_text(&other.describe()),
            };
            lines.push(Line::styled(text, theme.crit()))
        }
        None if wizard.abort_sent => {
            lines.push(Line::styled("stopping once the step in flight has been checked ...", theme.warn()))
        }
        None => {}
    }
    if run.quorum_guard_off {
        lines.push(Line::styled("QUORUM GUARD OFF until step quorum_guard_on", theme.warn()));
    }
    let current = wizard.current.as_ref().filter(|_| run.outcome().is_none());
    if let Some((index, step)) = current {
        lines.push(Line::styled(format!("step {}: {}", step.id, safe_text(&step.title)), theme.title()));
        if let Some((_, detail)) = wizard.waiting.as_ref().filter(|(i, _)| i == index) {
            for text in detail.lines().take(3) {
                lines.push(Line::styled(format!("  waiting: {}", safe_text(text)), theme.warn()));
            }
        }
    }
    // What the last finished step gave.
    let last =
        run.steps.iter().zip(&run.records).rev().find(|(_, r)| matches!(r.state, StepState::Done | StepState::Failed));
    if let Some((step, record)) = last {
        let first = record.detail.lines().find(|l| !l.trim().is_empty()).unwrap_or("done");
        let style = if record.state == StepState::Failed { theme.crit() } else { theme.dim() };
        lines.push(Line::styled(format!("last: {} {}", step.id, safe_text(first)), style));
    }
    if let Some((_, step)) = current {
        lines.push(Line::styled(format!("  check: {}", safe_text(&step.check)), theme.dim()));
        for command in &step.shown {
            lines.push(Line::styled(format!("  $ {}", safe_text(command)), theme.dim()));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), right);
}

fn draw_prompt(frame: &mut Frame, area: Rect, prompt: &Prompt, etcd_id: Option<u64>, theme: Theme) {
    use etcd_console_core::cluster::cluster_naming;
    let (title, mut lines) = match &prompt.asked {
        Asked::Confirm(c) => (
            " Replace the member: type CLUSTER/MEMBER ".to_string(),
            vec![
                Line::raw(cluster_naming(Some(&c.cluster_name), Some(&c.api_url), etcd_id)),
                Line::raw(format!("replace etcd member {} ({})", safe_text(&c.member), c.member_id)),
                Line::raw(c.procedure.title()),
                Line::styled(format!("the point of no return is {}", safe_text(&c.point_of_no_return)), theme.warn()),
                Line::raw(format!(
                    "type {} and {}",
                    safe_text(&c.expected),
                    said(Context::MemberConfirm.hints(), "; ")
                )),
            ],
        ),
        Asked::Done(step) => {
            let mut lines = vec![Line::raw(format!("step {}: {}", step.id, safe_text(&step.title)))];
            if let Act::Person { instruction, .. } = &step.act {
                lines.push(Line::raw(safe_text(instruction)));
            }
            for (n, command) in step.shown.iter().enumerate() {
                lines.push(Line::raw(format!("{}. $ {}", n + 1, safe_text(command))));
            }
            lines.push(Line::raw(format!("type done and {}", said(Context::MemberStep.hints(), "; "))));
            (" Replace the member: your step ".to_string(), lines)
        }
    };
    let width = area.width.saturating_sub(4).min(100);
    let mut typed = vec![Span::styled("> ", theme.title())];
    typed.extend(prompt.typed.spans(theme.title(), usize::from(width.saturating_sub(5))));
    lines.push(Line::from(typed));
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    super::popup(frame, area, width, Paragraph::new(lines).block(block).wrap(Wrap { trim: false }));
}
