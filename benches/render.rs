//! Drawing the whole screen for 7 members, as one frame of the console costs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use etcd_console::app::App;
use etcd_console::ui::{draw, Theme};
use etcd_console_core::cluster::fixtures::{healthy_cluster, identity, ok_sample};
use etcd_console_core::etcd::poller::PollEvent;
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

/// 5,000 pending CSRs (a flood): the CSR view, a frame with a filter, and typing the filter.
fn csr_flood(c: &mut Criterion) {
    use etcd_console::app::View;
    use etcd_console_core::openshift::csr::{CsrClass, DecodedRequest, PendingCsr, BOOTSTRAPPER, CLIENT_SIGNER};
    use etcd_console_core::openshift::watch::OpenShiftEvent;
    let (mut app, now) = seven_members_with_an_hour_of_history();
    let pending: Vec<PendingCsr> = (0..5000)
        .map(|i| PendingCsr {
            name: format!("csr-{i:05}"),
            signer: CLIENT_SIGNER.into(),
            requestor: BOOTSTRAPPER.into(),
            class: if i % 50 == 0 { CsrClass::Unexpected } else { CsrClass::NodeBootstrapper },
            reason: "flood".into(),
            usages: vec!["digital signature".into(), "client auth".into()],
            request: Some(DecodedRequest {
                common_name: Some(format!("system:node:worker-{}", i % 40)),
                organizations: vec!["system:nodes".into()],
                ..DecodedRequest::default()
            }),
            created: std::time::SystemTime::now().checked_sub(Duration::from_secs(i)),
            node: None,
            pending_limit: None,
        })
        .collect();
    app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: now });
    app.view = View::Csrs;
    app.openshift.csr_selected = 2500;
    let Ok(mut terminal) = Terminal::new(TestBackend::new(160, 48)) else {
        return;
    };
    c.bench_function("draw the CSR view, 5000 pending, 160x48", |b| {
        b.iter(|| {
            let _ = terminal.draw(|frame| draw(frame, black_box(&app), Theme { color: true }, now));
        })
    });
    let mut filtered = app.clone();
    filtered.openshift.set_filter("worker-7".into());
    c.bench_function("draw the CSR view, 5000 pending filtered to 125, 160x48", |b| {
        b.iter(|| {
            let _ = terminal.draw(|frame| draw(frame, black_box(&filtered), Theme { color: true }, now));
        })
    });
    c.bench_function("type one filter character over 5000 pending", |b| {
        b.iter(|| {
            app.openshift.set_filter(black_box("worker-1".into()));
            app.openshift.set_filter(black_box("worker-".into()));
        })
    });
}

criterion_group!(benches, render, csr_flood);
criterion_main!(benches);
