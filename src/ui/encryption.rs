//! The encryption wizard on the lower half: the type now and the three
//! operators' conditions, the type to go to; then each operator followed with
//! the time it took, the new key secrets and what happened; then the outcome
//! with what to do next.

use etcd_console_core::units::safe_text;
use std::time::{Duration, SystemTime};

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::encryption::{EncryptionWizard, Stage};
use crate::app::App;
use etcd_console_core::units::format_age;
use etcd_console_core::wizard::encryption::{
    after_completion, Action, EncryptionRun, EncryptionType, Outcome, Stage as RunStage,
};

use super::{keys_line, Theme};
use crate::app::keys::Context;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, wizard: &EncryptionWizard, theme: Theme) {
    let wall = app.wall_clock.unwrap_or_else(SystemTime::now);
    let rows = area.height.saturating_sub(2) as usize;
    let (title, lines) = match (wizard.stage, &wizard.run) {
        (Stage::Choosing, _) => choosing_lines(app, wizard, theme),
        (_, Some(run)) => run_lines(wizard, run, theme, wall, rows),
        (_, None) => (
            " Encryption: reading the cluster ".to_string(),
            vec![Line::raw("reading APIServer cluster and the operators ...")],
        ),
    };
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn choosing_lines(app: &App, wizard: &EncryptionWizard, theme: Theme) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    match app.openshift.encryption() {
        Some(encryption) => {
            lines.push(Line::raw(format!(
                "type now: {} (APIServer cluster spec.encryption.type)",
                safe_text(&encryption.kind)
            )));
            for c in &encryption.conditions {
                let style = if c.reason.ends_with("InProgress") { theme.warn() } else { theme.dim() };
                let condition = etcd_console_core::wizard::encryption::Condition {
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    since: c.since.clone(),
                };
                lines.push(Line::styled(
                    format!(
                        "  {:<18} {:<21} {}",
                        safe_text(short(&c.resource)),
                        safe_text(&c.reason),
                        safe_text(&what_of(&condition))
                    ),
                    style,
                ));
            }
            if encryption.in_progress() {
                lines.push(Line::styled(
                    "a migration is running: the engine refuses a new one until it completes",
                    theme.warn(),
                ));
            }
        }
        None => lines.push(Line::styled("the encryption state is not read yet (the API is watched)", theme.dim())),
    }
    let degraded: Vec<String> = app
        .openshift
        .operators()
        .into_iter()
        .filter(|o| {
            o.degraded == "True"
                && ["kube-apiserver", "openshift-apiserver", "authentication"].contains(&o.name.as_str())
        })
        .map(|o| o.name)
        .collect();
    if !degraded.is_empty() {
        lines.push(Line::styled(
            format!("Degraded: {} — the engine refuses while it lasts", degraded.join(", ")),
            theme.crit(),
        ));
    }
    let mut choice = vec![Span::raw("new type:")];
    for kind in EncryptionType::ALL {
        // The mark shows the choice without colour too.
        let (mark, style) = if kind == wizard.target { ("(•)", theme.key()) } else { ("( )", theme.dim()) };
        choice.push(Span::raw("  "));
        choice.push(Span::styled(format!("{mark} {}", kind.as_str()), style));
    }
    lines.push(Line::from(choice));
    let dir =
        app.backup_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_else(|| "(no backup directory)".into());
    lines.push(Line::raw(if wizard.backup_first {
        format!("backup first: yes, a verified snapshot into {dir}")
    } else {
        "backup first: no".to_string()
    }));
    if app.read_only {
        lines.push(Line::styled("read-only: the plan is shown, nothing is patched", theme.warn()));
    }
    lines.push(Line::raw(""));
    lines.push(keys_line(Context::EncryptionChoosing, theme));
    (" Encryption migration ".to_string(), lines)
}

/// The operator as a person calls it (the full resource name is for `oc get`).
fn short(resource: &str) -> &str {
    resource.strip_suffix(".operator.openshift.io").unwrap_or(resource)
}

/// The resources a condition names, else its message.
fn what_of(condition: &etcd_console_core::wizard::encryption::Condition) -> String {
    let resources = condition.resources();
    if resources.is_empty() {
        condition.message.clone()
    } else {
        resources.join(", ")
    }
}

fn run_lines(
    wizard: &EncryptionWizard,
    run: &EncryptionRun,
    theme: Theme,
    wall: SystemTime,
    rows: usize,
) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    let from = run.before.as_ref().and_then(|b| b.current_type()).map(|t| t.as_str()).unwrap_or("?");
    let cluster = run.before.as_ref().map(|b| b.cluster_name()).unwrap_or_default();
    let elapsed = run.elapsed(wall).map(|e| format!(" · {} since the patch", format_age(e))).unwrap_or_default();
    lines.push(Line::raw(format!("{from} -> {} on {cluster}{elapsed}", run.target.as_str())));
    let doing = match (&wizard.doing, run.stage) {
        (_, RunStage::Finished) => None,
        (_, RunStage::AwaitingYes) => Some("waiting for your answer".to_string()),
        (Some(Action::Backup), _) => Some(match wizard.backup_bytes {
            Some((done, total)) if total > 0 => format!("taking a verified backup first: {} %", done * 100 / total),
            _ => "taking a verified backup first".into(),
        }),
        (Some(Action::Patch { .. }), RunStage::Patching) => Some("patching APIServer cluster".into()),
        (_, RunStage::Following) => Some(match run.quiet_for(wall) {
            Some(quiet) if quiet >= Duration::from_secs(600) => {
                format!("following the operators · nothing changed for {} (stalled?)", format_age(quiet))
            }
            _ => "following the operators".into(),
        }),
        _ => Some("reading the cluster".into()),
    };
    if let Some(doing) = doing {
        lines.push(Line::styled(doing, theme.dim()));
    }
    for f in &run.followed {
        let Some(c) = &f.current else { continue };
        let (mark, style) = match f.done_after_seconds {
            Some(after) => (format!("done after {}", format_age(Duration::from_secs(after))), theme.ok()),
            None if !f.moved => ("not begun".to_string(), theme.dim()),
            None => ("in progress".to_string(), theme.warn()),
        };
        let resources = c.resources();
        lines.push(Line::styled(
            format!(
                "  {:<18} {:<21} {mark}{}",
                safe_text(short(&f.resource)),
                safe_text(&c.reason),
                if resources.is_empty() { String::new() } else { format!(" · {}", safe_text(&resources.join(", "))) }
            ),
            style,
        ));
    }
    if !run.new_keys.is_empty() {
        let keys: Vec<String> = run.new_keys.iter().map(|k| format!("{} ({})", safe_text(&k.name), k.mode)).collect();
        lines.push(Line::raw(format!("new key secrets: {}", keys.join(", "))));
    }
    let outcome = run.outcome();
    let title = match outcome {
        None => " Encryption: running ".to_string(),
        Some(outcome) => {
            let (word, style) = match outcome {
                Outcome::Completed { .. } => ("done", theme.ok()),
                Outcome::Applied | Outcome::NothingToDo { .. } => ("nothing to follow", theme.ok()),
                Outcome::Refused { .. } => ("refused", theme.warn()),
                Outcome::NotAllowed { .. } => ("not applied", theme.warn()),
                Outcome::Cancelled | Outcome::StoppedFollowing => ("stopped", theme.warn()),
                Outcome::Failed { .. } | Outcome::Degraded { .. } | Outcome::Stalled { .. } => {
                    ("stopped", theme.crit())
                }
            };
            lines.push(Line::styled(outcome.describe(), style));
            if matches!(outcome, Outcome::Completed { .. }) {
                lines.push(Line::styled(format!("next: {}", after_completion(run.target)), theme.warn()));
            }
            if matches!(outcome, Outcome::NotAllowed { .. }) {
                if let Some(plan) = run.plan() {
                    lines.push(Line::raw(format!(
                        "the plan: merge patch spec.encryption.type {} -> {}, then follow {}",
                        plan.from.as_str(),
                        plan.to.as_str(),
                        plan.operators.join(", ")
                    )));
                }
            }
            format!(" Encryption: {word} ")
        }
    };
    // The latest events that fit, above the keys.
    let room = rows.saturating_sub(lines.len() + 2).min(6);
    // The key secrets have their own line above.
    let events: Vec<_> = run.events.iter().filter(|e| !e.text.starts_with("new key secret ")).collect();
    let skip = events.len().saturating_sub(room);
    for event in events.into_iter().skip(skip) {
        let after =
            event.after_seconds.map(|s| format!("+{} ", format_age(Duration::from_secs(s)))).unwrap_or_default();
        lines.push(Line::styled(format!("{after}{}", event.text), theme.dim()));
    }
    lines.push(Line::raw(""));
    let keys = if outcome.is_some() {
        Context::EncryptionFinished
    } else if run.patched_at.is_some() {
        if wizard.abort_sent {
            Context::EncryptionStopping
        } else {
            Context::EncryptionFollowing
        }
    } else {
        Context::EncryptionUnpatched
    };
    lines.push(keys_line(keys, theme));
    (title, lines)
}
