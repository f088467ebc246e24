//! Drawing the whole screen for 7 members, as one frame of the console costs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use etcd_console::app::App;
use etcd_console::cluster::fixtures::{healthy_cluster, identity, ok_sample};
use etcd_console::etcd::poller::PollEvent;
use etcd_console::ui::{draw, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn seven_members_with_an_hour_of_history() -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new("bench".into(), 8 << 30, Duration::from_secs(2), t0);
    app.cluster = healthy_cluster(7, t0);
    for step in 1..=1800u64 {
        let at = t0 + Duration::from_secs(step * 2);
        for i in 0..7 {
            let mut sample = ok_sample(i, at, (400 << 20) + step * 4096, (300 << 20) + step * 2048);
            sample.members = Ok((0..7).map(identity).collect());
            app.on_poll(PollEvent::Sample(sample));
        }
    }
    (app, t0 + Duration::from_secs(3601))
}

fn render(c: &mut Criterion) {
    let (app, now) = seven_members_with_an_hour_of_history();
    for (width, height) in [(80u16, 24u16), (160, 48)] {
        let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height)) else {
            return;
        };
        c.bench_function(&format!("draw 7 members, 1 h history, {width}x{height}"), |b| {
            b.iter(|| {
                let _ = terminal.draw(|frame| draw(frame, black_box(&app), Theme { color: true }, now));
            })
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
