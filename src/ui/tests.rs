//! Whole-screen snapshots of the console in the states an SRE meets, drawn
//! with ratatui's TestBackend from made-up samples (states such as "no leader"
//! cannot be produced on demand with real members).

#![allow(clippy::panic)]
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::style::Modifier;
use ratatui::Terminal;

use super::{draw, Theme};
use crate::app::App;
use crate::cluster::fixtures::*;
use crate::cluster::{Alarm, AlarmKind, Discovery};
use crate::etcd::poller::PollEvent;

fn app_with(n: usize, t0: Instant) -> App {
    let mut app = App::new("10.0.0.10:2379 +2".into(), 8 << 30, Duration::from_secs(2), t0);
    app.cluster = healthy_cluster(n, t0);
    // Twenty seconds of history, growing a little.
    for step in 1..=10u64 {
        let at = t0 + Duration::from_secs(step * 2);
        for i in 0..n {
            let mut sample = ok_sample(
                i,
                at,
                ((40 + 3 * i as u64) << 20) + step * (256 << 10),
                ((31 + i as u64) << 20) + step * (200 << 10),
            );
            sample.members = Ok((0..n).map(identity).collect());
            app.on_poll(PollEvent::Sample(sample));
        }
    }
    app
}

fn screen(app: &App, width: u16, height: u16, theme: Theme, now: Instant) -> Terminal<TestBackend> {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => panic!("test backend: {e}"),
    };
    if let Err(e) = terminal.draw(|frame| draw(frame, app, theme, now)) {
        panic!("draw: {e}");
    }
    terminal
}

const COLOR: Theme = Theme { color: true };

#[test]
fn healthy_cluster_80x24() {
    let t0 = Instant::now();
    let app = app_with(3, t0);
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21)).backend());
}

#[test]
fn healthy_cluster_wide_shows_ids_and_raft() {
    let t0 = Instant::now();
    let app = app_with(3, t0);
    insta::assert_snapshot!(screen(&app, 130, 30, COLOR, t0 + Duration::from_secs(21)).backend());
}

#[test]
fn one_member_silent_shows_no_answer_and_keeps_its_last_figures() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    app.selected = 1;
    let last = t0 + Duration::from_secs(22);
    app.on_poll(PollEvent::Sample(failed_sample(1, last, "no answer within 5s")));
    for i in [0, 2] {
        app.on_poll(PollEvent::Sample(ok_sample(
            i,
            t0 + Duration::from_secs(36),
            (40 + 3 * i as u64) << 20,
            (31 + i as u64) << 20,
        )));
    }
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(37)).backend());
}

#[test]
fn nospace_alarm() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    app.cluster.quota_bytes = 64 << 20;
    let at = t0 + Duration::from_secs(22);
    for i in 0..3 {
        let mut sample = ok_sample(i, at, 64 << 20, 63 << 20);
        if let Ok(s) = sample.status.as_mut() {
            s.alarms = vec![Alarm { member_id: member_id(2), kind: AlarmKind::NoSpace }];
        }
        app.on_poll(PollEvent::Sample(sample));
    }
    app.selected = 2;
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, at).backend());
}

#[test]
fn the_alerts_overlay_gives_every_message() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    let at = t0 + Duration::from_secs(22);
    app.on_poll(PollEvent::Sample(failed_sample(1, at, "no answer within 5s")));
    let mut sample = ok_sample(2, at, 40 << 20, 31 << 20);
    if let Ok(s) = sample.status.as_mut() {
        s.leader_id = member_id(2);
    }
    app.on_poll(PollEvent::Sample(sample));
    app.show_alerts = true;
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, at).backend());
}

#[test]
fn no_leader() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    let at = t0 + Duration::from_secs(22);
    for i in 0..3 {
        let mut sample = ok_sample(i, at, 40 << 20, 31 << 20);
        sample.health = Err("etcdserver: no leader".into());
        if let Ok(s) = sample.status.as_mut() {
            s.leader_id = 0;
            s.errors = vec!["etcdserver: no leader".into()];
        }
        app.on_poll(PollEvent::Sample(sample));
    }
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, at).backend());
}

#[test]
fn unreachable_cluster_is_shown_and_retried() {
    let t0 = Instant::now();
    let mut app = App::new("https://10.0.0.10:2379".into(), 8 << 30, Duration::from_secs(2), t0);
    app.cluster.discovery = Discovery::Failed {
        error: "  https://10.0.0.10:2379: tcp connect error: Connection refused (os error 111)".into(),
        since: t0,
        retry_at: t0 + Duration::from_secs(16),
        attempt: 4,
    };
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(12)).backend());
}

#[test]
fn seven_members_fit_80x24_with_help_open() {
    let t0 = Instant::now();
    let mut app = app_with(7, t0);
    app.show_help = true;
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21)).backend());
}

#[test]
fn without_colour_the_selection_is_still_marked() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    app.selected = 1;
    let terminal = screen(&app, 80, 24, Theme { color: false }, t0 + Duration::from_secs(21));
    let buffer = terminal.backend().buffer();
    // Row 5 is master-1's: reversed, with the marker, and no colour anywhere.
    let row: String = (0..80).map(|x| buffer[(x, 5)].symbol().to_string()).collect();
    assert!(buffer.content().iter().all(|c| c.bg == ratatui::style::Color::Reset));
    assert!(row.starts_with("│> etcd-1"), "{row}");
    assert!(buffer[(3, 5)].modifier.contains(Modifier::REVERSED));
    assert!(buffer.content().iter().all(|c| c.fg == ratatui::style::Color::Reset));
}
