//! The backup wizard on the lower half: what it will do, the stream's
//! progress (bytes, rate, time left), and the result with where the files are.

use std::time::{Duration, SystemTime};

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::backup::{BackupWizard, Stage, Streaming};
use crate::app::App;
use etcd_console_core::cluster::report::hex;
use etcd_console_core::units::{format_age, format_bytes, format_bytes_short};
use etcd_console_core::wizard::backup::{Action, BackupRun, Outcome, Via, DIRTY_MARK};

use super::{keys_line, Theme};
use crate::app::keys::Context;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, wizard: &BackupWizard, theme: Theme) {
    let wall = app.wall_clock.unwrap_or_else(SystemTime::now);
    let width = area.width.saturating_sub(2) as usize;
    let (title, lines) = match (wizard.stage, &wizard.run) {
        (Stage::Ready, _) => ready_lines(app, wizard, theme, wall),
        (Stage::Running, run) => running_lines(wizard, run.as_ref(), theme, width),
        (Stage::Finished, Some(run)) => finished_lines(wizard, run, theme),
        (Stage::Finished, None) => (" Backup ".to_string(), Vec::new()),
    };
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

/// The member the engine will most likely choose: the first healthy follower by name.
fn likely_member(app: &App) -> Option<(String, bool)> {
    let leader = app.cluster.leader_id();
    let mut healthy: Vec<_> = app
        .cluster
        .members
        .iter()
        .filter(|m| m.is_up() && !m.identity.is_learner && matches!(m.health, Some(Ok(_))))
        .map(|m| (Some(m.identity.id) == leader, m.identity.display_name()))
        .collect();
    healthy.sort();
    healthy.first().map(|(is_leader, name)| (name.clone(), *is_leader))
}

/// "last restorable backup 2h ago (master-1)", a newer snapshot-only one said apart, or that
/// there is none.
pub fn last_backup_text(app: &App, wall: SystemTime) -> Option<String> {
    let found = app.last_backup.as_ref()?;
    let age = |at: SystemTime| format_age(wall.duration_since(at).unwrap_or_default());
    Some(match found {
        Some(last) => {
            let who = format!("{}{}", last.member, if last.possibly_dirty { ", possibly dirty" } else { "" });
            match (last.restore_grade, last.restorable_at) {
                (true, _) => format!("last restorable backup {} ago ({who})", age(last.taken_at)),
                (false, Some(at)) => {
                    format!(
                        "last restorable backup {} ago · a snapshot only {} ago ({who})",
                        age(at),
                        age(last.taken_at)
                    )
                }
                (false, None) => {
                    format!("no restorable backup: the last, {} ago ({who}), is a snapshot only", age(last.taken_at))
                }
            }
        }
        None => "no verified backup yet".to_string(),
    })
}

fn ready_lines(app: &App, wizard: &BackupWizard, theme: Theme, wall: SystemTime) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    let cluster = app.cluster.cluster_id().map(hex).unwrap_or_else(|| "(not known yet)".into());
    let encryption = app.openshift.encryption();
    // Where the API shows OpenShift, the runbook's backup (restore-grade); a direct snapshot elsewhere.
    let runbook = encryption.is_some();
    if runbook {
        lines.push(Line::raw(format!(
            "The OpenShift backup (cluster-backup.sh) of cluster {cluster} into {}",
            wizard.dir.display()
        )));
    } else {
        lines.push(Line::raw(format!("A snapshot of cluster {cluster} into {}", wizard.dir.display())));
    }
    match likely_member(app) {
        Some((name, false)) if runbook => lines.push(Line::raw(format!(
            "cluster-backup.sh on {name} (a healthy follower's node) through a debug pod, as oc debug node/{name}"
        ))),
        Some((name, false)) => lines.push(Line::raw(format!("from {name}, a healthy follower"))),
        Some((name, true)) => {
            lines.push(Line::styled(format!("from {name}, the leader: no follower is healthy"), theme.warn()))
        }
        None => lines.push(Line::styled("no member is healthy to take it from", theme.crit())),
    }
    if runbook {
        lines.push(Line::raw(
            "snapshot_<time>.db and static_kuberesources_<time>.tar.gz brought back, checked (SHA-256, bbolt, gzip, \
             tar), the node cleaned; backup_<time>.json beside them: what restore --backup takes",
        ));
        let encrypted = encryption.as_ref().map(|e| e.kind.clone()).filter(|k| !k.is_empty() && k != "identity");
        match (&encrypted, &wizard.keys_dir) {
            (Some(kind), None) => lines.push(Line::styled(
                format!("encrypted ({kind}): its keys are NOT saved with the backup — s saves them too"),
                theme.warn(),
            )),
            (_, Some(keys)) => lines.push(Line::styled(
                format!("the encryption keys go to {} (apart from the backups)", keys.display()),
                theme.ok(),
            )),
            (None, None) => {}
        }
    } else {
        lines.push(Line::raw(
            "streamed to snapshot_<time>.db.part, fsynced, its SHA-256 and bbolt structure verified, then renamed; \
             backup_<time>.json beside it",
        ));
    }
    let banners = app.openshift.banners(wall);
    let refusing: Vec<&String> =
        banners.iter().filter(|b| b.contains("encryption migration") || b.contains("rolling to revision")).collect();
    if refusing.is_empty() {
        lines.push(Line::styled("no encryption migration or control-plane rollout seen", theme.ok()));
    } else {
        for banner in refusing {
            lines.push(Line::styled(format!("refused while: {banner}"), theme.warn()));
        }
    }
    if let Some(text) = last_backup_text(app, wall) {
        lines.push(Line::styled(text, theme.dim()));
    }
    lines.push(Line::raw(""));
    lines.push(keys_line(Context::BackupReady, theme));
    (" Backup ".to_string(), lines)
}

fn gauge(streaming: &Streaming, width: usize) -> String {
    let fraction = if streaming.total > 0 { (streaming.done as f64 / streaming.total as f64).min(1.0) } else { 0.0 };
    let bar_width = width.saturating_sub(2).min(50);
    let filled = (fraction * bar_width as f64).round() as usize;
    format!("[{}{}] {:>3.0} %", "█".repeat(filled), "·".repeat(bar_width - filled.min(bar_width)), fraction * 100.0)
}

fn running_lines(
    wizard: &BackupWizard,
    run: Option<&BackupRun>,
    theme: Theme,
    width: usize,
) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    if let Some(d) = run.and_then(|r| r.decision.as_ref()) {
        lines.push(Line::raw(format!(
            "cluster {} · from {} ({}, etcd {}){}",
            hex(d.cluster_id),
            d.member,
            if d.was_leader { "the leader" } else { "a follower" },
            d.etcd_version,
            if d.dirty_because.is_empty() { String::new() } else { format!(" · forced, marked {DIRTY_MARK}") }
        )));
    }
    let doing = match &wizard.doing {
        None | Some(Action::Check { .. }) => "checking the members and the operators ...".to_string(),
        Some(Action::Prepare { remote }) => match remote.via {
            Via::Api => format!("starting a debug pod on {} (as oc debug node/{})", remote.node, remote.node),
            Via::Ssh => format!("reaching {} over ssh", remote.node),
        },
        Some(Action::RunScript { remote, .. }) => {
            format!("cluster-backup.sh {} on {}", remote.dir, remote.node)
        }
        Some(Action::Fetch { remote, part, .. }) => {
            format!("copying from {} into {}", remote.node, part.display())
        }
        Some(Action::TearDown { remote }) => {
            format!("removing {} and the debug pod from {}", remote.dir, remote.node)
        }
        Some(Action::VerifyArchive { .. }) => "reading the static resources archive back: gzip, tar, components".into(),
        Some(Action::Stream { part, .. }) => format!("streaming into {}", part.display()),
        Some(Action::Verify { .. }) => "SHA-256 matched as it arrived; reading the file back: every bbolt page".into(),
        Some(Action::SaveKeys { path }) => format!("saving the encryption keys to {}", path.display()),
        Some(Action::Publish { snapshot, .. }) => format!("putting it in place: {}", snapshot.display()),
        Some(Action::List { .. } | Action::Remove { .. }) => "removing older backups (--keep)".into(),
        Some(Action::CleanUp { .. }) => "removing what the failed run left".into(),
        Some(Action::Finished(_)) => String::new(),
    };
    lines.push(Line::raw(doing));
    if let Some(streaming) = &wizard.streaming {
        lines.push(Line::styled(gauge(streaming, width), theme.ok()));
        lines.push(Line::raw(format!(
            "{} of {} · {}/s{}",
            format_bytes(streaming.done),
            format_bytes(streaming.total),
            format_bytes_short(streaming.rate as u64),
            streaming
                .eta
                .map(|eta| format!(" · about {} left", format_age(Duration::from_secs(eta.as_secs()))))
                .unwrap_or_default()
        )));
    }
    for note in run.map(|r| r.notes.clone()).unwrap_or_default() {
        lines.push(Line::styled(note, theme.dim()));
    }
    lines.push(Line::raw(""));
    lines.push(keys_line(if wizard.abort_sent { Context::BackupStopping } else { Context::BackupRunning }, theme));
    (" Backup: running ".to_string(), lines)
}

fn finished_lines(wizard: &BackupWizard, run: &BackupRun, theme: Theme) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    let outcome = run.outcome().cloned().unwrap_or(Outcome::Failed { reason: "unfinished".into() });
    let title = match &outcome {
        Outcome::Completed => {
            let metadata = run.metadata();
            if let Some(d) = &run.decision {
                lines.push(Line::styled(format!("taken and verified: {}", d.snapshot.display()), theme.ok()));
                lines.push(Line::raw(format!(
                    "{} · revision {} · {} keys · from {} · etcd {}{}",
                    format_bytes(metadata.db_size),
                    metadata.revision,
                    metadata.total_keys,
                    d.member,
                    d.etcd_version,
                    run.streamed.as_ref().map(|s| format!(" · {:.1}s", s.took.as_secs_f64())).unwrap_or_default()
                )));
                lines.push(Line::raw(format!("sha256 {}", metadata.sha256)));
                if let (Some(archive), Some(sha)) = (&d.archive, &metadata.static_resources_sha256) {
                    lines.push(Line::styled(format!("static resources: {}", archive.display()), theme.ok()));
                    lines.push(Line::raw(format!("sha256 {sha}")));
                    lines.push(Line::styled("restore-grade: restore --backup takes it", theme.ok()));
                } else {
                    lines.push(Line::styled(
                        "a direct snapshot only: not restore-grade (no static resources)",
                        theme.warn(),
                    ));
                }
                lines.push(Line::raw(format!("metadata {}", d.metadata.display())));
            }
            " Backup: done ".to_string()
        }
        Outcome::Refused { reason } => {
            lines.push(Line::styled(format!("refused: {reason}"), theme.warn()));
            lines.push(Line::raw("nothing was written"));
            " Backup: refused ".to_string()
        }
        Outcome::Failed { reason } => {
            lines.push(Line::styled(format!("failed: {reason}"), theme.crit()));
            lines.push(Line::raw("nothing was left at the final name"));
            " Backup: failed ".to_string()
        }
    };
    for note in &run.notes {
        lines.push(Line::styled(note.clone(), theme.dim()));
    }
    lines.push(Line::raw(""));
    lines.push(keys_line(
        if wizard.refused().is_some() { Context::BackupRefused } else { Context::BackupFinished },
        theme,
    ));
    (title, lines)
}
