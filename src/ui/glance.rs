//! One glance: what the SRE must know beside the members, on the members view: encryption,
//! rollouts not at their latest revision, pending CSRs, the last restorable backup, the API's
//! freshness. Whole items only (never a word cut): at 80 columns items say less, then the least
//! important go. And the runs going on, as header badges, even when their pane is hidden.

use std::time::{Instant, SystemTime};

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::Theme;
use crate::app::openshift::ApiState;
use crate::app::{backup, defrag, encryption, member, restore, App};
use etcd_console_core::units::{format_age, safe_text};

/// One thing said at a glance, long and short, with how much it matters (lower: kept longer).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub rank: u8,
    pub long: String,
    pub short: String,
    pub style: Style,
}

fn item(rank: u8, long: String, short: impl Into<String>, style: Style) -> Item {
    Item { rank, long, short: short.into(), style }
}

/// Everything the strip would say, in the order shown.
pub fn items(app: &App, theme: Theme, now: Instant, wall: SystemTime) -> Vec<Item> {
    let mut items = Vec::new();
    if let Some(enc) = app.openshift.encryption() {
        let total = enc.conditions.len();
        let kind = safe_text(&enc.kind);
        items.push(if enc.in_progress() {
            item(
                1,
                format!("encryption → {kind}: {} of {total} operators done", enc.done()),
                format!("enc → {kind} {}/{total}", enc.done()),
                theme.warn(),
            )
        } else if enc.settled() {
            item(4, format!("encryption {kind} settled"), format!("enc {kind}"), theme.ok())
        } else {
            item(
                2,
                format!("encryption {kind}: {} of {total} operators done", enc.done()),
                format!("enc {kind} {}/{total}", enc.done()),
                theme.warn(),
            )
        });
    }
    for r in app.openshift.rollouts() {
        let total = r.nodes.len();
        let done = r.nodes.iter().filter(|n| n.current_revision >= r.latest_revision).count();
        let failed: Vec<i64> =
            r.nodes.iter().filter_map(|n| n.last_failed_revision).filter(|f| *f >= r.latest_revision).collect();
        if done == total && failed.is_empty() {
            continue;
        }
        let op = safe_text(&r.operator);
        let fail = if failed.is_empty() { String::new() } else { format!(", revision {} failed", failed[0]) };
        items.push(item(
            1,
            format!("{op} rev {}: {done}/{total} nodes{fail}", r.latest_revision),
            format!("{op} {done}/{total}{}", if failed.is_empty() { "" } else { " FAILED" }),
            if failed.is_empty() { theme.warn() } else { theme.crit() },
        ));
    }
    if app.openshift.csrs.is_some() {
        let pending = app.openshift.pending_csrs();
        let unexpected = pending.iter().filter(|c| !c.class.is_valid()).count();
        items.push(match (pending.len(), unexpected) {
            (0, _) => item(5, "no CSR pending".into(), "CSR 0", theme.dim()),
            (n, 0) => item(2, format!("{n} CSR(s) pending"), format!("CSR {n}"), theme.warn()),
            (n, u) => item(1, format!("{n} CSR(s) pending, {u} unexpected"), format!("CSR {n} ({u}!)"), theme.crit()),
        });
    }
    match &app.last_backup {
        Some(Some(last)) => {
            let at = if last.restore_grade { Some(last.taken_at) } else { last.restorable_at };
            items.push(match at.and_then(|at| wall.duration_since(at).ok()) {
                Some(age) => {
                    let style = if age.as_secs() > 24 * 3600 { theme.warn() } else { theme.dim() };
                    item(
                        3,
                        format!("restorable backup {} ago", format_age(age)),
                        format!("backup {}", format_age(age)),
                        style,
                    )
                }
                None => item(2, "no restorable backup yet".into(), "no backup", theme.warn()),
            });
        }
        Some(None) => items.push(item(2, "no restorable backup yet".into(), "no backup", theme.warn())),
        None => {}
    }
    match &app.openshift.api {
        ApiState::Unavailable(_) => {}
        ApiState::Connecting => items.push(item(4, "API connecting".into(), "API …", theme.dim())),
        ApiState::Connected { .. } => items.push(match (app.openshift.troubled_since(), app.openshift.updated()) {
            (Some(since), _) => item(
                1,
                format!("API watch failing for {}", format_age(now.saturating_duration_since(since))),
                "API failing",
                theme.crit(),
            ),
            (None, Some(at)) => {
                // The watch is live: what it holds is current; the age is of its last change.
                let age = format_age(now.saturating_duration_since(at));
                item(4, format!("API live (last change {age} ago)"), "API live", theme.dim())
            }
            (None, None) => item(4, "API: waiting for the first answer".into(), "API …", theme.dim()),
        }),
    }
    items
}

const SEPARATOR: &str = " · ";

/// The items laid out on `lines` lines of `width` columns: long forms while they fit, then
/// short forms for the least important, then those go. Never a word cut.
pub fn lay_out(items: &[Item], width: u16, lines: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.saturating_sub(1));
    let mut chosen: Vec<(usize, bool)> = (0..items.len()).map(|i| (i, true)).collect();
    // The order in which items give way: least important (highest rank) first, later ones first.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|i| (std::cmp::Reverse(items[*i].rank), std::cmp::Reverse(*i)));
    let fits = |chosen: &[(usize, bool)]| pack(items, chosen, width).len() <= usize::from(lines);
    for i in &order {
        if fits(&chosen) {
            break;
        }
        if let Some(c) = chosen.iter_mut().find(|(j, _)| j == i) {
            c.1 = false;
        }
    }
    for i in &order {
        if fits(&chosen) {
            break;
        }
        chosen.retain(|(j, _)| j != i);
    }
    pack(items, &chosen, width)
        .into_iter()
        .map(|row| {
            let mut spans = vec![Span::raw(" ")];
            for (n, (i, long)) in row.into_iter().enumerate() {
                if n > 0 {
                    spans.push(Span::raw(SEPARATOR));
                }
                let text = if long { &items[i].long } else { &items[i].short };
                spans.push(Span::styled(text.clone(), items[i].style));
            }
            Line::from(spans)
        })
        .collect()
}

/// Rows of whole items, each row at most `width` wide (an item wider than a row has one to itself).
fn pack(items: &[Item], chosen: &[(usize, bool)], width: usize) -> Vec<Vec<(usize, bool)>> {
    let mut rows: Vec<Vec<(usize, bool)>> = Vec::new();
    let mut used = 0;
    for &(i, long) in chosen {
        let len = if long { items[i].long.chars().count() } else { items[i].short.chars().count() };
        match rows.last_mut() {
            Some(row) if used + SEPARATOR.len() + len <= width => {
                row.push((i, long));
                used += SEPARATOR.chars().count() + len;
            }
            _ => {
                rows.push(vec![(i, long)]);
                used = len;
            }
        }
    }
    rows
}

/// A badge for each run going on, whatever the pane shows: `DEFRAG 1/3 · next 52s`,
/// `BACKUP 40 %`, `RESTORE 18/47`.
pub fn run_badges(app: &App, theme: Theme) -> Vec<Span<'static>> {
    let mut badges = Vec::new();
    if let Some(w) = app.defrag.as_ref().filter(|w| w.stage == defrag::Stage::Running) {
        let (done, total) = w.run.as_ref().map(|r| (r.done.len(), r.planned.len())).unwrap_or((0, 0));
        let next = match w.countdown {
            Some((left, _)) if !left.is_zero() => format!(" · next {}", format_age(left)),
            _ => String::new(),
        };
        badges.push(format!("DEFRAG {done}/{total}{next}"));
    }
    if let Some(w) = app.backup.as_ref().filter(|w| w.stage == backup::Stage::Running) {
        badges.push(match &w.streaming {
            Some(s) if s.total > 0 => format!("BACKUP {} %", (s.done * 100 / s.total).min(100)),
            _ => "BACKUP checking".into(),
        });
    }
    if let Some(w) = app.encryption.as_ref().filter(|w| w.stage == encryption::Stage::Running) {
        badges.push(format!("ENCRYPTION → {}", w.target.as_str()));
    }
    if let Some(w) = app.restore.as_ref().filter(|w| w.stage == restore::Stage::Running) {
        let total = w.run.as_ref().map(|r| r.steps.len()).unwrap_or(0);
        let at = w.current.as_ref().map(|(i, _)| i + 1).unwrap_or(0);
        badges.push(format!("RESTORE {at}/{total}"));
    }
    if let Some(w) = app.member.as_ref().filter(|w| w.stage == member::Stage::Running) {
        let total = w.run.as_ref().map(|r| r.steps.len()).unwrap_or(0);
        let at = w.current.as_ref().map(|(i, _)| i + 1).unwrap_or(0);
        badges.push(format!("REPLACE {at}/{total}"));
    }
    badges
        .into_iter()
        .flat_map(|b| [Span::styled(format!(" {b} "), theme.key().patch(theme.info())), Span::raw(" ")])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<Item> {
        let s = Style::default();
        vec![
            item(1, "encryption → aescbc: 1 of 3 operators done".into(), "enc → aescbc 1/3", s),
            item(1, "kubeapiserver rev 8: 2/3 nodes".into(), "kubeapiserver 2/3", s),
            item(1, "4 CSR(s) pending, 1 unexpected".into(), "CSR 4 (1!)", s),
            item(3, "restorable backup 2h ago".into(), "backup 2h", s),
            item(4, "API live (last change 1s ago)".into(), "API live", s),
        ]
    }

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn wide_says_everything_in_full() {
        let lines = lay_out(&items(), 200, 1);
        assert_eq!(
            text(&lines),
            [" encryption → aescbc: 1 of 3 operators done · kubeapiserver rev 8: 2/3 nodes · 4 CSR(s) pending, 1 unexpected · restorable backup 2h ago · API live (last change 1s ago)"]
        );
    }

    #[test]
    fn at_80_columns_the_least_important_say_less_and_nothing_is_cut() {
        let lines = text(&lay_out(&items(), 80, 1));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].chars().count() < 80, "{lines:?}");
        // The most important keep their words; each item is whole, long or short.
        assert!(lines[0].contains("4 CSR(s) pending, 1 unexpected") || lines[0].contains("CSR 4 (1!)"), "{lines:?}");
        for item in items() {
            let whole = lines[0].contains(&item.long) || lines[0].contains(&item.short);
            let gone = !lines[0].contains(item.short.split(' ').next().unwrap_or(""));
            assert!(whole || gone, "{} cut: {lines:?}", item.short);
        }
        // Two lines give room for more.
        let two = text(&lay_out(&items(), 80, 2));
        assert!(two.len() == 2 && two.iter().all(|l| l.chars().count() < 80));
        assert!(two.join(" ").contains("encryption → aescbc: 1 of 3 operators done"), "{two:?}");
    }

    #[test]
    fn a_very_narrow_strip_keeps_the_most_important() {
        let lines = text(&lay_out(&items(), 40, 1));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("enc → aescbc 1/3"), "{lines:?}");
        assert!(!lines[0].contains("API"), "{lines:?}");
    }
}
