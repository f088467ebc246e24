//! The defrag wizard on the lower half, under the live members table: the
//! plan, then each member's state with sizes before and after, the countdown,
//! the last gate, and the result.

use std::time::SystemTime;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::defrag::{DefragWizard, Stage};
use crate::app::App;
use etcd_console_core::cluster::report::hex;
use etcd_console_core::units::{format_age, format_bytes_short};
use etcd_console_core::wizard::defrag::engine::NoteKind;
use etcd_console_core::wizard::defrag::{Action, DefragRun, Outcome};

use super::{keys_line, Theme};
use crate::app::keys::{aside, Context};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, wizard: &DefragWizard, theme: Theme) {
    let wall = app.wall_clock.unwrap_or_else(SystemTime::now);
    let (title, lines) = match (wizard.stage, &wizard.run) {
        (Stage::Planning, _) if app.unfinished_defrag.is_some() => resume_lines(app, theme),
        (Stage::Planning, _) if wizard.nospace.is_some() => nospace_lines(app, wizard, theme),
        (Stage::Planning, _) => plan_lines(app, wizard, theme),
        (_, Some(run)) => run_lines(wizard, run, theme, wall),
        (_, None) => (" Defrag ".to_string(), vec![Line::raw("starting ...")]),
    };
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn resume_lines(app: &App, theme: Theme) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    if let Some(unfinished) = &app.unfinished_defrag {
        let run = &unfinished.run;
        lines.push(Line::styled(
            format!(
                "An unfinished defrag run of cluster {} was found (last written {}).",
                hex(run.cluster_id),
                unfinished.last_written
            ),
            theme.warn(),
        ));
        for done in &run.done {
            lines.push(Line::raw(format!(
                "  done     {:<16} {} -> {}",
                done.name,
                format_bytes_short(done.before.db_size),
                format_bytes_short(done.after.db_size)
            )));
        }
        for left in run.remaining() {
            lines.push(Line::raw(format!("  not yet  {}", left.name)));
        }
        if let Some(action) = &unfinished.in_flight {
            lines.push(Line::raw(format!(
                "In flight when it stopped: {} — checked before anything is sent.",
                etcd_console_core::wizard::defrag::executor::action_name(action)
            )));
        }
    }
    lines.push(Line::raw(""));
    lines.push(keys_line(Context::DefragResume, theme));
    (" Defrag: resume ".to_string(), lines)
}

/// The NOSPACE form: the alarm, each member against the quota, then the three
/// steps that clear it (the engine's words, as `defrag --dry-run` prints them).
fn nospace_lines(app: &App, wizard: &DefragWizard, theme: Theme) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    match &wizard.nospace {
        Some(Ok(nospace)) => {
            lines.push(Line::styled(
                format!("NOSPACE raised by {}: only reads and deletes are taken", nospace.raised_by.join(", ")),
                theme.crit(),
            ));
            lines.push(Line::styled(
                format!("{:<18}{:<10}{:>9}{:>9}{:>10}  {}", "MEMBER", "ROLE", "SIZE", "IN USE", "OF QUOTA", "ALARM"),
                theme.dim(),
            ));
            for member in &nospace.members {
                let is_leader = nospace.defrag.steps.iter().any(|s| s.name == member.name && s.is_leader);
                let row = format!(
                    "{:<18}{:<10}{:>9}{:>9}{:>8.0} %  {}",
                    member.name,
                    if is_leader { "leader" } else { "follower" },
                    format_bytes_short(member.db_size),
                    format_bytes_short(member.db_size_in_use),
                    member.quota_pct,
                    if member.raised_nospace { "NOSPACE" } else { "" }
                );
                let over = member.db_size >= nospace.disarm_limit_bytes();
                lines.push(if over { Line::styled(row, theme.warn()) } else { Line::raw(row) });
            }
            for step in nospace.step_lines() {
                lines.push(Line::raw(step));
            }
        }
        Some(Err(e)) => {
            lines.push(Line::styled("NOSPACE is raised, but it cannot be cleared now:", theme.crit()));
            lines.push(Line::styled(e.clone(), theme.crit()));
        }
        None => {}
    }
    lines.push(Line::raw(format!(
        "{} between members; move leader before its turn: {}",
        humantime::format_duration(wizard.options.wait),
        if wizard.options.move_leader { "on" } else { "off" },
    )));
    if app.read_only {
        lines.push(Line::styled("read-only: the plan is shown, a run is refused (--read-only)", theme.warn()));
    }
    lines.push(keys_line(Context::DefragNospace, theme));
    (" Defrag: clear NOSPACE (compact, defragment, disarm) ".to_string(), lines)
}

fn plan_lines(app: &App, wizard: &DefragWizard, theme: Theme) -> (String, Vec<Line<'static>>) {
    let rule = wizard.rule().describe();
    let mut lines = Vec::new();
    match &wizard.plan {
        Err(e) => lines.push(Line::styled(format!("No plan: {e}"), theme.crit())),
        Ok(plan) => {
            lines.push(Line::styled(
                format!("{:<3}{:<18}{:<10}{:>9}{:>9}{:>14}", "#", "MEMBER", "ROLE", "SIZE", "IN USE", "TO GIVE BACK"),
                theme.dim(),
            ));
            if plan.steps.is_empty() {
                lines.push(Line::raw(format!(
                    "   no member needs it by this rule ({})",
                    aside(Context::DefragNoneNeeded.hints())
                )));
            }
            for (n, step) in plan.steps.iter().enumerate() {
                let in_use = step.size_before.saturating_sub(step.expected_reclaim);
                lines.push(Line::raw(format!(
                    "{:<3}{:<18}{:<10}{:>9}{:>9}{:>14}",
                    n + 1,
                    step.name,
                    if step.is_leader { "leader" } else { "follower" },
                    format_bytes_short(step.size_before),
                    format_bytes_short(in_use),
                    format_bytes_short(step.expected_reclaim)
                )));
            }
            for (name, why) in &plan.skipped {
                lines.push(Line::styled(format!("   skipped {name}: {why}"), theme.dim()));
            }
            lines.push(Line::raw(format!(
                "{} to give back; at least {} ({} between members); leader last, re-read before each member",
                format_bytes_short(plan.expected_reclaim()),
                humantime::format_duration(plan.minimum_duration(wizard.options.wait)),
                humantime::format_duration(wizard.options.wait),
            )));
        }
    }
    if wizard.options.wait < etcd_console_core::wizard::defrag::engine::RUNBOOK_WAIT {
        lines.push(Line::styled(
            format!(
                "the wait is {}, under the 60s of \"Defragmenting etcd data\" (--i-know-wait-is-short)",
                humantime::format_duration(wizard.options.wait)
            ),
            theme.warn(),
        ));
    }
    lines.push(Line::raw(format!(
        "move leader before its turn: {}   defrag call limit: {}",
        if wizard.options.move_leader { "on" } else { "off" },
        humantime::format_duration(wizard.options.command_timeout)
    )));
    if app.read_only {
        lines.push(Line::styled("read-only: the plan is shown, a run is refused (--read-only)", theme.warn()));
    }
    lines.push(keys_line(Context::DefragPlan, theme));
    (format!(" Defrag plan: {rule} "), lines)
}

fn run_lines(wizard: &DefragWizard, run: &DefragRun, theme: Theme, wall: SystemTime) -> (String, Vec<Line<'static>>) {
    let mut lines =
        vec![Line::styled(format!("{:<18}{:<34}{:>9}{:>9}", "MEMBER", "STATE", "BEFORE", "AFTER"), theme.dim())];
    let current = run.current();
    for planned in &run.planned {
        let leader = if run.leader == Some(planned.id) { " (leader)" } else { "" };
        if let Some(done) = run.done.iter().find(|d| d.id == planned.id) {
            let took = done.took.map(|t| format!(" in {:.1}s", t.as_secs_f64())).unwrap_or_else(|| " (late)".into());
            lines.push(Line::styled(
                format!(
                    "{:<18}{:<34}{:>9}{:>9}",
                    planned.name,
                    format!("done{took}{leader}"),
                    format_bytes_short(done.before.db_size),
                    format_bytes_short(done.after.db_size)
                ),
                theme.ok(),
            ));
        } else if current == Some(planned.id) {
            let since = wizard
                .doing
                .as_ref()
                .and_then(|(_, at)| wall.duration_since(*at).ok())
                .map(|d| format!(" {}", format_age(d)))
                .unwrap_or_default();
            let state = match wizard.doing.as_ref().map(|(a, _)| a) {
                Some(Action::AwaitAnswer { .. }) => format!("waiting for an answer{since}"),
                Some(Action::Observe) => "checking it is healthy".to_string(),
                _ => format!("defragmenting{since}{leader}"),
            };
            lines.push(Line::styled(
                format!("{:<18}{:<34}{:>9}", planned.name, state, format_bytes_short(planned.size_before)),
                theme.warn(),
            ));
        } else {
            lines.push(Line::raw(format!(
                "{:<18}{:<34}{:>9}",
                planned.name,
                format!("not yet{leader}"),
                format_bytes_short(planned.size_before)
            )));
        }
    }
    if let Some((left, total)) = wizard.countdown {
        let width = 20usize;
        let filled = if total.is_zero() {
            width
        } else {
            ((total.saturating_sub(left)).as_secs_f64() / total.as_secs_f64() * width as f64).round() as usize
        };
        lines.push(Line::raw(format!(
            "next member in {:>3}s  [{}{}]  then the whole cluster is checked",
            left.as_secs() + u64::from(left.subsec_millis() > 0),
            "#".repeat(filled.min(width)),
            ".".repeat(width.saturating_sub(filled))
        )));
    }
    for note in run.notes.iter().filter(|n| matches!(n.kind, NoteKind::Compacted | NoteKind::Disarmed)) {
        lines.push(Line::styled(note.text.clone(), theme.ok()));
    }
    // The gate line follows the run: once its member is done it names the next one.
    if let Some(gate) = run.notes.iter().rev().find(|n| n.kind == NoteKind::Gate) {
        let gated_done = gate.member.as_ref().filter(|m| run.done.iter().any(|d| &d.name == *m));
        match (gated_done, run.remaining().first()) {
            (None, _) => lines.push(Line::styled(format!("last gate: {}", gate.text), theme.dim())),
            (Some(done), Some(next)) => lines.push(Line::styled(
                format!("{} done; next: {} (its gate is checked first)", done, next.name),
                theme.dim(),
            )),
            (Some(_), None) => {}
        }
    }
    for note in run.notes.iter().rev().filter(|n| n.kind == NoteKind::Warning).take(2) {
        lines.push(Line::styled(format!("! {}", note.text), theme.warn()));
    }
    let title = match run.outcome() {
        Some(Outcome::Completed) => {
            if let Some(note) = run.notes.iter().rev().find(|n| n.kind == NoteKind::Completed) {
                lines.push(Line::styled(note.text.clone(), theme.ok()));
            }
            lines.push(keys_line(Context::DefragFinished, theme));
            format!(" Defrag of cluster {}: completed ", hex(run.cluster_id))
        }
        Some(Outcome::Stopped { .. }) => {
            if let Some(note) = run.notes.iter().rev().find(|n| n.kind == NoteKind::Stopped) {
                lines.push(Line::styled(note.text.clone(), theme.crit()));
            }
            lines.push(keys_line(Context::DefragFinished, theme));
            format!(" Defrag of cluster {}: stopped ", hex(run.cluster_id))
        }
        None => {
            if wizard.abort_sent {
                lines.push(Line::styled("abort asked: stopping before the next member", theme.warn()));
            }
            lines.push(keys_line(Context::DefragRunning, theme));
            format!(" Defrag of cluster {}: running ", hex(run.cluster_id))
        }
    };
    (title, lines)
}
